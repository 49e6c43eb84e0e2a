//! An in-memory WebSocket: the `Pipe` of `pkg_router::transport`'s doctests, with an optional
//! bound on the frames waiting for the client, so that a client that does not read pushes back on
//! the server (`poll_ready` stays pending until it reads).

use futures_util::{Sink, Stream};
use pkg_router::transport::{Frame, SocketError};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use tokio::sync::mpsc;

/// The server's end.
pub struct Pipe {
    incoming: mpsc::UnboundedReceiver<Result<Frame, SocketError>>,
    outgoing: Arc<Mutex<Outgoing>>,
}

/// The client's end: sends frames (or read errors) to the server, reads what it wrote.
pub struct Client {
    sender: Option<mpsc::UnboundedSender<Result<Frame, SocketError>>>,
    outgoing: Arc<Mutex<Outgoing>>,
}

struct Outgoing {
    frames: VecDeque<Frame>,
    /// Frames the client may leave unread before the server's writes wait; `None`: no bound.
    capacity: Option<usize>,
    /// The server, waiting for room.
    writer: Option<Waker>,
    /// The client, waiting for a frame.
    reader: Option<Waker>,
    /// The server dropped its end.
    closed: bool,
}

/// A connected pair.
pub fn pipe(capacity: Option<usize>) -> (Pipe, Client) {
    let (sender, incoming) = mpsc::unbounded_channel();
    let outgoing = Arc::new(Mutex::new(Outgoing {
        frames: VecDeque::new(),
        capacity,
        writer: None,
        reader: None,
        closed: false,
    }));
    let server = Pipe {
        incoming,
        outgoing: Arc::clone(&outgoing),
    };
    let client = Client {
        sender: Some(sender),
        outgoing,
    };
    (server, client)
}

fn lock(outgoing: &Mutex<Outgoing>) -> MutexGuard<'_, Outgoing> {
    outgoing.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Stream for Pipe {
    type Item = Result<Frame, SocketError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx)
    }
}

impl Sink<Frame> for Pipe {
    type Error = SocketError;
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
        let mut out = lock(&self.outgoing);
        if out.capacity.is_some_and(|cap| out.frames.len() >= cap) {
            out.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, frame: Frame) -> Result<(), SocketError> {
        let mut out = lock(&self.outgoing);
        out.frames.push_back(frame);
        if let Some(reader) = out.reader.take() {
            reader.wake();
        }
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        let mut out = lock(&self.outgoing);
        out.closed = true;
        if let Some(reader) = out.reader.take() {
            reader.wake();
        }
    }
}

impl Client {
    /// Sends a frame (or a read error) to the server; false once the server stopped reading.
    pub fn send(&self, frame: Result<Frame, SocketError>) -> bool {
        self.sender
            .as_ref()
            .is_some_and(|sender| sender.send(frame).is_ok())
    }

    /// Ends the client's half: the server reads the end of the stream.
    pub fn hang_up(&mut self) {
        self.sender = None;
    }

    /// Whether the server dropped its end (it may have left frames to read).
    pub fn server_gone(&self) -> bool {
        lock(&self.outgoing).closed
    }

    /// The next frame the server wrote, if one is waiting.
    pub fn try_recv(&self) -> Option<Frame> {
        let mut out = lock(&self.outgoing);
        let frame = out.frames.pop_front();
        if frame.is_some()
            && let Some(writer) = out.writer.take()
        {
            writer.wake();
        }
        frame
    }

    /// The next frame the server writes; `None` once it dropped its end and all was read.
    pub async fn recv(&self) -> Option<Frame> {
        std::future::poll_fn(|cx| {
            let mut out = lock(&self.outgoing);
            if let Some(frame) = out.frames.pop_front() {
                if let Some(writer) = out.writer.take() {
                    writer.wake();
                }
                return Poll::Ready(Some(frame));
            }
            if out.closed {
                return Poll::Ready(None);
            }
            out.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// A text frame.
pub fn text(text: impl Into<String>) -> Result<Frame, SocketError> {
    Ok(Frame::Text(bytes::Bytes::from(text.into())))
}
