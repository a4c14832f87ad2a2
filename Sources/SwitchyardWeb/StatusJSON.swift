// /status.json's text: the model encoded with snake_case keys, as the page and scripts read it.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwitchyardControl

enum StatusJSON {
    static func encode(_ model: StatusModel) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        // Rates are finite; should one ever not be, it is written as 0 rather than failing the page.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "0", negativeInfinity: "0", nan: "0")
        return (try? Array(encoder.encode(model))) ?? Array("{}".utf8)
    }
}
