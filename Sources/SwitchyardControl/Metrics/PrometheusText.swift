// Prometheus's text exposition format (0.0.4): metric families, each with its HELP and TYPE
// lines and its samples, label values escaped. What `adm --metrics` prints.

/// A counter only goes up (its name ends in _total); a gauge is a value now.
public enum MetricType: String, Sendable {
    case counter, gauge
}

/// One metric family: a name, what it means, its type and its samples.
public struct MetricFamily: Sendable, Equatable {
    public struct Sample: Sendable, Equatable {
        /// Label names and values, in the order they are written.
        public var labels: [Label]
        public var value: Double

        public init(_ labels: [Label] = [], _ value: Double) {
            self.labels = labels
            self.value = value
        }
    }

    public struct Label: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var name: String
    public var help: String
    public var type: MetricType
    public var samples: [Sample]

    public init(_ name: String, _ type: MetricType, help: String, samples: [Sample]) {
        self.name = name
        self.type = type
        self.help = help
        self.samples = samples
    }
}

public enum PrometheusText {
    /// The families as Prometheus reads them, one family after another.
    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for family in families {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.type.rawValue)\n"
            for sample in family.samples {
                out += family.name
                if !sample.labels.isEmpty {
                    out += "{" + sample.labels.map { "\($0.name)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
                }
                out += " \(format(sample.value))\n"
            }
        }
        return out
    }

    /// A label value: backslash, double quote and line feed escaped.
    static func escapeLabel(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// HELP text: backslash and line feed escaped.
    static func escapeHelp(_ text: String) -> String {
        text.replacingBackslashes().split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n")
    }

    /// Whole numbers without a fraction (counters are), others as Swift writes them; the
    /// format's own words for infinities and NaN.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 9.007_199_254_740_992e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

extension String {
    fileprivate func replacingBackslashes() -> String {
        var out = ""
        for c in self { if c == "\\" { out += "\\\\" } else { out.append(c) } }
        return out
    }
}
