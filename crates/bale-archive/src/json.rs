//! Deterministic JSON: sorted keys at every level, no floats, trailing newline.
//!
//! Keys are sorted here rather than trusting `serde_json::Map` to be a
//! `BTreeMap`: another crate in the same build enabling `preserve_order`
//! would silently change the order, and with it the package's bytes.

use serde::Serialize;
use serde_json::Value;

use crate::ArchiveError;

/// Serialises `value` as deterministic JSON.
pub(crate) fn to_canonical_json(value: &impl Serialize) -> Result<Vec<u8>, ArchiveError> {
    let value = serde_json::to_value(value).map_err(|e| ArchiveError::Index(e.to_string()))?;
    let mut out = Vec::with_capacity(4096);
    write_value(&value, &mut out)?;
    out.push(b'\n');
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), ArchiveError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(ArchiveError::Index(format!(
                    "floating-point number {n} in the index"
                )));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out)?;
                out.push(b':');
                write_value(&map[key.as_str()], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) -> Result<(), ArchiveError> {
    serde_json::to_writer(&mut *out, s).map_err(|e| ArchiveError::Index(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_at_every_level() {
        let value = serde_json::json!({"b": 1, "a": {"z": [{"y": 1, "x": "é\n"}], "c": null}});
        let json = to_canonical_json(&value).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\"a\":{\"c\":null,\"z\":[{\"x\":\"é\\n\",\"y\":1}]},\"b\":1}\n"
        );
    }

    #[test]
    fn floats_are_refused() {
        assert!(to_canonical_json(&serde_json::json!({"a": 1.5})).is_err());
    }
}
