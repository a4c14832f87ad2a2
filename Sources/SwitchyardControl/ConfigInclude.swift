// keepalived's `include PATTERN` lines: which lines are includes, where a relative pattern points,
// and which files a pattern names. As keepalived 2.2 (lib/parser.c: is_include, check_include,
// open_and_check_glob, check_glob_file, open_conf_file): the pattern is glob(3)'s with braces,
// relative to the directory of the file that includes it (keepalived changes into that
// directory), matches are read in glob's sorted order, and directories and executable files are
// skipped. A plain `include` that matches nothing is skipped with a warning; the strict forms
// (`includer`, `includem`, `includew`, `includeb`, `includea`) make that an error.
import Glibc

/// One include line.
struct ConfigInclude: Equatable {
    var pattern: String
    /// includer/m/w/b/a: a pattern that matches nothing, or a match that cannot be read, is an
    /// error instead of a warning.
    var strict: Bool

    /// The include a processed line asks for, if it is one (is_include): `include` and a blank,
    /// or `include` + one of r m w b a and a blank, then the pattern (the rest of the line).
    init?(_ line: ArraySlice<Unicode.Scalar>) {
        let word: ConfigText = ["i", "n", "c", "l", "u", "d", "e"]
        guard line.count > 8, line.starts(with: word) else { return nil }
        func isBlank(_ c: Unicode.Scalar) -> Bool { [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"].contains(c) }
        let seventh = line.startIndex + 7
        var index = seventh
        if isBlank(line[seventh]) {
            strict = false
        } else if "rmwba".unicodeScalars.contains(line[seventh]), isBlank(line[seventh + 1]) {
            strict = true
            index = seventh + 1
        } else {
            return nil
        }
        let rest = line[index...].drop(while: isBlank)
        pattern = String(String.UnicodeScalarView(rest))
    }

    /// The pattern as glob(3) must see it: a relative pattern is put under the directory of
    /// `includingFile`, whose glob characters are escaped so that only the pattern's own count.
    static func resolve(_ pattern: String, includingFile: String) -> String {
        guard !pattern.hasPrefix("/"), let slash = includingFile.lastIndex(of: "/") else { return pattern }
        var directory = ""
        for c in includingFile[...slash] {
            if "*?[]{}\\".contains(c) { directory.append("\\") }
            directory.append(c)
        }
        return directory + pattern
    }

    /// The paths a resolved pattern matches, sorted; empty when none. A trailing `/` marks a
    /// directory (GLOB_MARK), which the caller skips as keepalived does.
    static func expand(_ pattern: String) -> (paths: [String], failure: String?) {
        var matches = glob_t()
        defer { globfree(&matches) }
        let result = glob(pattern, GLOB_MARK | GLOB_BRACE, nil, &matches)
        switch result {
        case 0: break
        case GLOB_NOMATCH: return ([], nil)
        case GLOB_NOSPACE: return ([], "out of memory while matching")
        default: return ([], "a directory on the way cannot be read")
        }
        var paths: [String] = []
        for index in 0..<Int(matches.gl_pathc) {
            if let path = matches.gl_pathv[index] { paths.append(String(cString: path)) }
        }
        return (paths, nil)
    }

    /// Why a matched path is skipped, or nil if it is a config file to read (check_glob_file):
    /// a directory, anything but a regular file, or an executable one.
    static func reasonToSkip(_ path: String) -> String? {
        if path.hasSuffix("/") { return "is a directory" }
        var status = stat()
        guard stat(path, &status) == 0 else { return "cannot be read: \(String(cString: strerror(errno)))" }
        guard status.st_mode & S_IFMT == S_IFREG else { return "is not a regular file" }
        if status.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH) != 0 {
            return "is executable (keepalived reads only non-executable files; chmod a-x it)"
        }
        return nil
    }

    /// The absolute directory of `file`, which `$_PWD` gives (keepalived's getcwd after it
    /// changed into that directory).
    static func absoluteDirectory(of file: String) -> String {
        var directory = "."
        if let slash = file.lastIndex(of: "/") { directory = slash == file.startIndex ? "/" : String(file[..<slash]) }
        guard let resolved = realpath(directory, nil) else { return directory }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
