// The target's state lives in Target.swift, where globals are initialized lazily, so it is also
// sound when libFuzzer's own main is the one that runs.
import FuzzSupport

runLibFuzzer { data, size in
    // libFuzzer may pass a null pointer for the empty input.
    guard let data else { return 0 }
    return fuzz(data, size)
}
