import Foundation

/// Numbers in JSONSerialization's output. On Linux `value is Bool` holds for every NSNumber equal to 0 or 1, so
/// `"num_key_value_heads": 1` would read as a boolean; true/false are told apart by their class instead.
public enum JSONNumber {
    private static let booleanClass = ObjectIdentifier(type(of: NSNumber(value: true)))

    /// The number `value` holds, nil for booleans and non-numbers.
    public static func number(_ value: Any?) -> NSNumber? {
        guard let n = value as? NSNumber, ObjectIdentifier(type(of: n)) != booleanClass else { return nil }
        return n
    }
}
