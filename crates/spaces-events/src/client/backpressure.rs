//! Handing events to the application's bounded channels without ever dropping one: when a
//! channel is full, deliveries queue here and the driver stops reading the socket until the
//! channel has room, so TCP pushes back on the server.

use std::collections::VecDeque;

use tokio::sync::mpsc;

use super::RawEvent;
use super::session::Item;

/// One item for one channel.
#[derive(Debug)]
pub(crate) enum Delivery {
    Event(mpsc::Sender<Item>, Item),
    Raw(mpsc::Sender<RawEvent>, RawEvent),
}

/// Deliveries waiting for room, in order.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    waiting: VecDeque<Delivery>,
}

/// What became of a delivery.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delivered now, or queued behind others.
    Done,
    /// The receiver is gone (its stream was dropped).
    Gone,
}

impl Backlog {
    /// Whether deliveries wait (the socket must not be read meanwhile).
    pub(crate) fn is_blocked(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Delivers now if there is room and nothing waits before it; otherwise queues it.
    pub(crate) fn push(&mut self, delivery: Delivery) -> Outcome {
        if self.is_blocked() {
            self.waiting.push_back(delivery);
            return Outcome::Done;
        }
        match delivery.try_deliver() {
            Ok(()) => Outcome::Done,
            Err(Some(delivery)) => {
                self.waiting.push_back(delivery);
                Outcome::Done
            }
            Err(None) => Outcome::Gone,
        }
    }

    /// Resolves when the first waiting delivery's channel has room (`true`) or is gone
    /// (`false`); pending forever when nothing waits.
    pub(crate) fn room(&self) -> impl Future<Output = bool> + use<> {
        let sender = self.waiting.front().map(|d| match d {
            Delivery::Event(tx, _) => Ok(tx.clone()),
            Delivery::Raw(tx, _) => Err(tx.clone()),
        });
        async move {
            match sender {
                Some(Ok(tx)) => tx.reserve_owned().await.is_ok(),
                Some(Err(tx)) => tx.reserve_owned().await.is_ok(),
                None => std::future::pending().await,
            }
        }
    }

    /// After [`room`](Self::room): delivers the first waiting delivery (or drops it when its
    /// receiver is gone).
    pub(crate) fn retry(&mut self, open: bool) {
        let Some(first) = self.waiting.pop_front() else {
            return;
        };
        if let (true, Err(Some(first))) = (open, first.try_deliver()) {
            self.waiting.push_front(first);
        }
    }
}

impl Delivery {
    /// Tries to deliver; `Err(Some(self))` when the channel is full, `Err(None)` when the
    /// receiver is gone.
    fn try_deliver(self) -> Result<(), Option<Delivery>> {
        use mpsc::error::TrySendError::{Closed, Full};
        match self {
            Delivery::Event(tx, item) => match tx.try_send(item) {
                Ok(()) => Ok(()),
                Err(Full(item)) => Err(Some(Delivery::Event(tx, item))),
                Err(Closed(_)) => Err(None),
            },
            Delivery::Raw(tx, event) => match tx.try_send(event) {
                Ok(()) => Ok(()),
                Err(Full(event)) => Err(Some(Delivery::Raw(tx, event))),
                Err(Closed(_)) => Err(None),
            },
        }
    }
}
