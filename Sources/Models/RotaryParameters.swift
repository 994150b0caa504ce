import FuseFormats
import FuseTensor
import Foundation

/// RoPE settings from an HF config: transformers < 5 writes `rope_theta` and `rope_scaling`; 5.x writes
/// `rope_parameters`, either one object or one per layer type (Gemma 3: `full_attention`, `sliding_attention`).
/// Supported types: default, linear, llama3 — anything else is refused by name.
public enum RotaryParameters {
    public static let supportedTypes = ["default", "linear", "llama3"]

    /// The parameters for `layerType` (nil: the model has one set), merged from whichever keys the config uses.
    public static func parameters(_ r: ConfigReader, layerType: String? = nil, defaultTheta: Double = 10000) throws -> [String: Any] {
        var params: [String: Any] = ["rope_type": "default", "rope_theta": try r.double("rope_theta", default: defaultTheta)]
        for key in ["rope_scaling", "rope_parameters"] where r.has(key) {
            guard var value = r.json[key] as? [String: Any] else { throw r.error(key, "is not an object") }
            if let layerType, let perType = value[layerType] {
                guard let p = perType as? [String: Any] else { throw r.error("\(key).\(layerType)", "is not an object") }
                value = p
            } else if value.values.contains(where: { $0 is [String: Any] }) {
                throw r.error(key, "has per-layer-type parameters but this family has one kind of layer")
            }
            if let type = value["type"] { params["rope_type"] = type }   // transformers < 4.45 wrote `type`
            params.merge(value) { _, new in new }
        }
        return params
    }

    /// Inverse frequencies for `rotaryDim` rotated dimensions, computed in Float32 as transformers computes them.
    public static func inverseFrequencies(_ params: [String: Any], rotaryDim: Int, key: String, reader r: ConfigReader) throws -> [Float] {
        guard let type = params["rope_type"] as? String else { throw r.error("\(key).rope_type", "is not a string") }
        func number(_ name: String) throws -> Double {
            guard let n = JSONNumber.number(params[name]) else {
                throw r.error("\(key).\(name)", params[name] == nil ? "missing (RoPE type \(type) needs it)" : "is not a number")
            }
            return n.doubleValue
        }
        let theta = try number("rope_theta")
        guard theta > 0 else { throw r.error("\(key).rope_theta", "must be positive") }
        let base = RoPE.defaultInverseFrequencies(rotaryDim: rotaryDim, theta: theta)
        switch type {
        case "default":
            return base
        case "linear":
            let factor = Float(try number("factor"))
            guard factor > 0 else { throw r.error("\(key).factor", "must be positive") }
            return base.map { $0 / factor }
        case "llama3":
            let factor = Float(try number("factor")), low = Float(try number("low_freq_factor"))
            let high = Float(try number("high_freq_factor")), old = Float(try number("original_max_position_embeddings"))
            guard factor > 0, high > low, low > 0 else { throw r.error(key, "llama3 needs factor > 0 and high_freq_factor > low_freq_factor > 0") }
            let lowWavelength = old / low, highWavelength = old / high
            return base.map { f in
                let wavelength = Float(2 * Double.pi) / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / factor }
                let smooth = (old / wavelength - low) / (high - low)
                return (1 - smooth) * f / factor + smooth * f
            }
        default:
            throw r.error("\(key).rope_type", "RoPE type \(type) is not supported (supported: \(supportedTypes.joined(separator: ", ")))")
        }
    }

    /// Rotated dimensions for a fraction of the head (`partial_rotary_factor`, `rotary_pct`), which must be in (0, 1].
    public static func rotaryDimensions(headDim: Int, fraction: Double, key: String, reader r: ConfigReader) throws -> Int {
        guard fraction > 0, fraction <= 1 else { throw r.error(key, "\(fraction) is not a fraction of the head in (0, 1]") }
        return Int(Double(headDim) * fraction)
    }

    /// The config key that holds the RoPE settings, for messages.
    public static func key(_ r: ConfigReader) -> String { r.has("rope_parameters") ? "rope_parameters" : r.has("rope_scaling") ? "rope_scaling" : "rope_theta" }
}
