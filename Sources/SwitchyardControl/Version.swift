// The release this source is: shown by `switchyard --version`, the status page and its JSON.
public enum SwitchyardVersion {
    public static let number = "0.9.0"
    public static let text = "switchyard \(number)"
}
