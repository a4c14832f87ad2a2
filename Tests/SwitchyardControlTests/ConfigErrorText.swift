// The config tests' way of asking what the reader says of a text: its first error as printed
// (PATH:LINE:COL: message), or "no error".
@testable import SwitchyardControl

/// What `Config.parse` says of `text` read as `path`.
func configError(_ text: String, path: String) -> String {
    do {
        _ = try Config.parse(text, path: path)
        return "no error"
    } catch {
        return error.description
    }
}
