//! What every server and the client agree on: the workload, the wire frames, the request ids,
//! and the cheap text scans the client uses to read responses (the same scans for every
//! server, so the client costs the same whoever it talks to).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// The HS256 secret the pkg-router server verifies and the client signs with.
pub(crate) const JWT_SECRET: &str = "pkg-router-bench-secret-not-for-production";

/// pkg-router: CREATE_BOOK.
pub(crate) const CREATE_BOOK: u32 = 3;
/// pkg-router: how many connections the hub holds (public).
pub(crate) const STATS: u32 = 8;
/// pkg-router: broadcast `count` BOOK_CREATED pushes (role `admin`).
pub(crate) const BROADCAST: u32 = 9;
/// pkg-router: the push id of the fan-out messages.
pub(crate) const BOOK_CREATED: u32 = 100;

/// jsonrpsee: the methods equivalent to the ids above.
pub(crate) const RPC_CREATE_BOOK: &str = "create_book";
pub(crate) const RPC_BROADCAST: &str = "broadcast";
pub(crate) const RPC_SUBSCRIBE: &str = "subscribe_books";
pub(crate) const RPC_NOTIFICATION: &str = "book_created";
pub(crate) const RPC_UNSUBSCRIBE: &str = "unsubscribe_books";

/// socketioxide: the events equivalent to the ids above, and the room every socket joins.
pub(crate) const SIO_CREATE_BOOK: &str = "create_book";
pub(crate) const SIO_STATS: &str = "stats";
pub(crate) const SIO_BROADCAST: &str = "broadcast";
pub(crate) const SIO_BOOK_CREATED: &str = "book_created";
pub(crate) const SIO_ROOM: &str = "books";

/// The CREATE_BOOK payload every server accepts (`data` / `params`).
pub(crate) const BOOK_JSON: &str =
    r#"{"title":"The Pragmatic Programmer","author_id":1,"isbn":"978-0135957059"}"#;

/// The CREATE_BOOK input: the schema pkg-router validates (title 1..200, author_id > 0, isbn
/// `^978-\d{10}$`), the same as `benches/dispatch.rs` and the books example.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct CreateBook {
    #[schemars(length(min = 1, max = 200))]
    pub(crate) title: String,
    #[schemars(range(min = 1))]
    pub(crate) author_id: i64,
    #[schemars(regex(pattern = r"^978-\d{10}$"))]
    pub(crate) isbn: Option<String>,
}

impl CreateBook {
    /// The schema's rules checked by hand (what a jsonrpsee method does without a schema).
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let title_len = self.title.chars().count();
        if !(1..=200).contains(&title_len) {
            return Err("title must be 1..200 characters");
        }
        if self.author_id < 1 {
            return Err("author_id must be positive");
        }
        if let Some(isbn) = &self.isbn {
            let digits = isbn.strip_prefix("978-").unwrap_or("");
            if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err("isbn must match ^978-\\d{10}$");
            }
        }
        Ok(())
    }
}

/// The created book every server returns.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Book {
    pub(crate) id: i64,
    pub(crate) title: String,
    pub(crate) author_id: i64,
    pub(crate) isbn: Option<String>,
}

/// Books the store keeps: the oldest go first, so the store's memory and the cost of an
/// insert stay flat however long a run lasts (a growing map would rehash ever larger tables
/// now and then, and those pauses would land in every server's tail latency).
const STORE_CAPACITY: usize = 65_536;

/// The in-memory store the handlers write to (so no database is measured).
#[derive(Clone, Debug, Default)]
pub(crate) struct Store {
    inner: Arc<Mutex<Books>>,
}

#[derive(Debug, Default)]
struct Books {
    last_id: i64,
    recent: VecDeque<Book>,
}

impl Store {
    /// Stores a new book and returns it.
    pub(crate) fn create(&self, input: CreateBook) -> Book {
        let mut books = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        books.last_id += 1;
        let book = Book {
            id: books.last_id,
            title: input.title,
            author_id: input.author_id,
            isbn: input.isbn,
        };
        if books.recent.len() == STORE_CAPACITY {
            books.recent.pop_front();
        } else if books.recent.capacity() == 0 {
            books.recent.reserve_exact(STORE_CAPACITY);
        }
        books.recent.push_back(book.clone());
        book
    }
}

/// One fan-out message: its sequence number, the server's wall clock (ns since the epoch) at
/// the broadcast call, and a book-sized body.
#[derive(Debug, Serialize)]
pub(crate) struct Event<'a> {
    pub(crate) seq: u64,
    pub(crate) t: u64,
    pub(crate) action: &'a str,
    pub(crate) id: u64,
    pub(crate) title: &'a str,
}

impl Event<'static> {
    /// Message `seq`, stamped now.
    pub(crate) fn now(seq: u64) -> Self {
        Self {
            seq,
            t: wall_ns(),
            action: "created",
            id: seq + 1,
            title: "The Pragmatic Programmer",
        }
    }
}

/// Nanoseconds since the epoch on the wall clock: comparable between processes on one machine.
pub(crate) fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The request id of request `seq` on connection `conn`: a valid UUID whose last group carries
/// `seq`, so an open-loop reader finds the send time without a lookup table.
pub(crate) fn request_id(conn: usize, seq: u64) -> String {
    format!("{:08x}-0000-4000-8000-{seq:012x}", conn & 0xffff_ffff)
}

/// The `seq` of a [`request_id`] found anywhere in `frame`.
pub(crate) fn seq_of_response(frame: &str) -> Option<u64> {
    let at = frame.find("-4000-8000-")? + "-4000-8000-".len();
    u64::from_str_radix(frame.get(at..at + 12)?, 16).ok()
}

/// The ack id of a Socket.IO ack frame, `43<id>[...]` (namespace `/`), or `None` for any other
/// frame.
pub(crate) fn sio_ack_id(frame: &str) -> Option<u64> {
    let rest = frame.strip_prefix("43")?;
    let end = rest.find('[')?;
    rest.get(..end)?.parse().ok()
}

/// The unsigned integer after `"key":` in `frame` (the first occurrence).
pub(crate) fn number_after(frame: &str, key: &str) -> Option<u64> {
    let at = frame.find(key)? + key.len();
    let rest = frame.get(at..)?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest.get(..end)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_round_trip() {
        let id = request_id(7, 0x1234);
        assert_eq!(id, "00000007-0000-4000-8000-000000001234");
        assert!(uuid::Uuid::parse_str(&id).is_ok());
        let frame = format!(r#"{{"pkg_id":3,"req_id":"{id}","status_code":0}}"#);
        assert_eq!(seq_of_response(&frame), Some(0x1234));
    }

    #[test]
    fn sio_ack_ids_are_read() {
        assert_eq!(sio_ack_id(r#"4312[{"id":1}]"#), Some(12));
        assert_eq!(sio_ack_id(r#"430[{"queued":5}]"#), Some(0));
        assert_eq!(sio_ack_id(r#"42["book_created",{"seq":1}]"#), None);
        assert_eq!(sio_ack_id("2"), None);
    }

    #[test]
    fn numbers_are_found() {
        let frame = r#"{"data":{"seq":12,"t":1700000000000000000,"action":"created"}}"#;
        assert_eq!(number_after(frame, r#""seq":"#), Some(12));
        assert_eq!(
            number_after(frame, r#""t":"#),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(number_after(frame, r#""x":"#), None);
    }

    #[test]
    fn hand_check_matches_the_schema() {
        let ok: CreateBook = serde_json::from_str(BOOK_JSON).unwrap();
        assert!(ok.check().is_ok());
        let bad: CreateBook =
            serde_json::from_str(r#"{"title":"","author_id":0,"isbn":"123"}"#).unwrap();
        assert!(bad.check().is_err());
    }
}
