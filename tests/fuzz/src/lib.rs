//! Helpers shared by the fuzz targets.

use serde_json::Value;

/// Whether two JSON values are the same, except that floating-point numbers may differ in their last
/// bits. serde_json (without its `float_roundtrip` feature, as edgekv builds it) does not always parse
/// a decimal to the nearest double, so a float can move by an ULP each time JSON text is parsed again
/// (for example `49e25` reads as 4.9000000000000004e26, whose text reads back as 4.9e26). The fuzz
/// targets tolerate that known drift and fail on any other change.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && same_json(vx, vy))
        }
        _ => a == b,
    }
}
