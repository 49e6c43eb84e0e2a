//! JSON-ish values built from fuzz input.

use arbitrary::{Result, Unstructured};
use serde_json::{Map, Number, Value};

/// Keys the library reads somewhere, and one it does not.
const KEYS: [&str; 10] = [
    "page",
    "per_page",
    "cursor",
    "filters",
    "ms",
    "title",
    "author_id",
    "isbn",
    "n",
    "other",
];

/// A JSON value of at most `depth` levels, leaning to the shapes that matter (integers around
/// the limits, strings, small objects).
pub fn value(u: &mut Unstructured<'_>, depth: u8) -> Result<Value> {
    let kind = if depth == 0 {
        u.int_in_range(0..=6)?
    } else {
        u.int_in_range(0..=8)?
    };
    Ok(match kind {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(integer(u)?),
        3 => Value::from(u.arbitrary::<i64>()?),
        4 => Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        5 => Value::from(u.arbitrary::<String>()?),
        6 => Value::from(["978-0441013593", "", "Dune", "id:40"][u.choose_index(4)?]),
        7 => {
            let len = u.int_in_range(0..=4)?;
            Value::Array(
                (0..len)
                    .map(|_| value(u, depth - 1))
                    .collect::<Result<_>>()?,
            )
        }
        _ => Value::Object(object(u, depth - 1)?),
    })
}

/// An object of up to six entries, keys mostly from the ones the library reads.
pub fn object(u: &mut Unstructured<'_>, depth: u8) -> Result<Map<String, Value>> {
    let len = u.int_in_range(0..=6)?;
    let mut map = Map::new();
    for _ in 0..len {
        let key = if u.ratio(7, 8)? {
            KEYS[u.choose_index(KEYS.len())?].to_owned()
        } else {
            u.arbitrary()?
        };
        map.insert(key, value(u, depth)?);
    }
    Ok(map)
}

/// An unsigned integer near the interesting edges (0, 1, 20, 100, 2^31, 2^32).
pub fn integer(u: &mut Unstructured<'_>) -> Result<u64> {
    let base: u64 = [0, 1, 10, 20, 100, 2_000, 1 << 31, 1 << 32, u64::MAX][u.choose_index(9)?];
    let delta: u8 = u.int_in_range(0..=2)?;
    Ok(if u.arbitrary()? {
        base.saturating_add(u64::from(delta))
    } else {
        base.saturating_sub(u64::from(delta))
    })
}
