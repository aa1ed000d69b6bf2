//! The client side of one generation: a channel of events plus a cancel flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::InferError;
use crate::request::{Completion, StreamEvent};

/// Cancels a generation from anywhere (clone it into another task).
#[derive(Debug, Clone, Default)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Events of one generation: deltas, then `Done` (or `Error`). Dropping it
/// cancels the generation; the engine frees its slot at the next step.
#[derive(Debug)]
pub struct GenerationStream {
    rx: flume::Receiver<StreamEvent>,
    cancel: CancelHandle,
    prompt_tokens: usize,
}

impl GenerationStream {
    pub(crate) fn new(
        rx: flume::Receiver<StreamEvent>,
        cancel: CancelHandle,
        prompt_tokens: usize,
    ) -> Self {
        GenerationStream {
            rx,
            cancel,
            prompt_tokens,
        }
    }

    /// Blocks for the next event; `None` once the generation is over.
    pub fn recv(&self) -> Option<StreamEvent> {
        self.rx.recv().ok()
    }

    /// Blocks until the generation ends and returns the completion (deltas are skipped).
    pub fn wait(&self) -> Result<Completion, InferError> {
        while let Some(ev) = self.recv() {
            match ev {
                StreamEvent::Delta(_) | StreamEvent::Token(_) => {}
                StreamEvent::Done(c) => return Ok(c),
                StreamEvent::Error(e) => return Err(InferError::Model(e)),
            }
        }
        Err(InferError::ShuttingDown)
    }

    /// Waits for the next event without blocking a thread.
    pub async fn recv_async(&self) -> Option<StreamEvent> {
        self.rx.recv_async().await.ok()
    }

    /// Waits at most `timeout`; `Err(true)` means the stream is over, `Err(false)` a timeout.
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Result<StreamEvent, bool> {
        self.rx.recv_timeout(timeout).map_err(|e| match e {
            flume::RecvTimeoutError::Disconnected => true,
            flume::RecvTimeoutError::Timeout => false,
        })
    }

    /// Asks the engine to stop; a `Done` with finish reason `cancelled` follows.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Prompt tokens after truncation, known at submit time.
    pub fn prompt_tokens(&self) -> usize {
        self.prompt_tokens
    }
}

impl Iterator for GenerationStream {
    type Item = StreamEvent;
    fn next(&mut self) -> Option<StreamEvent> {
        self.recv()
    }
}

impl Drop for GenerationStream {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
