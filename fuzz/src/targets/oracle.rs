//! Independent readings of the protocol's rules, to compare the library's answers with.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// The top-level entries of a JSON object in order, duplicates kept, values as raw text.
pub struct Entries(pub Vec<(String, Box<RawValue>)>);

impl Entries {
    /// The entries of `text`, or `None` when it is not a JSON object.
    pub fn read(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The raw value of `key` when it occurs once; `Err` when it occurs more than once.
    pub fn once(&self, key: &str) -> Result<Option<&str>, ()> {
        let mut all = self
            .0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.get());
        let first = all.next();
        if all.next().is_some() {
            return Err(());
        }
        Ok(first)
    }
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    entries.push((key, map.next_value::<Box<RawValue>>()?));
                }
                Ok(Entries(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Entries, A::Error> {
                Err(de::Error::custom("not an object"))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// A `pkg_id` as protocol §2 says: a JSON integer (no sign, fraction or exponent) in
/// `0..=2^31-1`.
pub fn pkg_id(raw: &str) -> Option<u32> {
    if raw.is_empty() || raw.len() > 10 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<u64>()
        .ok()
        .filter(|id| *id <= u64::from(pkg_router::pkg_id::MAX_PKG_ID))
        .and_then(|id| u32::try_from(id).ok())
}

/// A `req_id` as protocol §2 says: a JSON string holding a UUID, hyphenated, simple,
/// braced or `urn:uuid:`, any case.
pub fn req_id(raw: &str) -> Option<uuid::Uuid> {
    let text: String = serde_json::from_str(raw).ok()?;
    let text = text.as_str();
    // The decoder strips a `urn:uuid:` prefix in any case, then takes any form the `uuid`
    // crate reads, which includes a lower-case `urn:uuid:` once more.
    let text = match text.get(..9) {
        Some(prefix) if prefix.eq_ignore_ascii_case("urn:uuid:") => &text[9..],
        _ => text,
    };
    let text = text
        .strip_prefix("urn:uuid:")
        .filter(|t| t.len() == 36)
        .unwrap_or(text);
    let hex: String = match text.len() {
        32 => text.to_owned(),
        36 => hyphenated(text)?,
        38 => hyphenated(text.strip_prefix('{')?.strip_suffix('}')?)?,
        _ => return None,
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(&hex, 16)
        .ok()
        .map(uuid::Uuid::from_u128)
}

/// The 32 hex digits of an 8-4-4-4-12 form.
fn hyphenated(text: &str) -> Option<String> {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    (lengths == [8, 4, 4, 4, 12]).then(|| groups.concat())
}

/// The token of an `Authorization`-style value `Bearer <token>` (scheme in any case).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
