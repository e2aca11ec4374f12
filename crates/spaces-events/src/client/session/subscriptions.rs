//! The subscriptions of a [`Session`]: what is subscribed, the channel frames that say so, and
//! the server's answers (CHANNEL_SUBSCRIBED, SUBSCRIBE_CHANNEL_FAILED).

use serde_json::value::RawValue;
use tracing::{debug, info, warn};

use super::{Output, Session, Sub, message_text};
use crate::client::Error;
use crate::protocol::{Frame, encode_event};
use crate::types::{Channel, ChannelSubscribed, SubscribeChannel, SubscribeChannelFailed};

impl<S: Clone> Session<S> {
    /// Subscribes `space`; its events go to `sink`. Sent now if connected, else once the
    /// namespace accepts.
    pub(crate) fn subscribe(
        &mut self,
        space: String,
        password: Option<String>,
        sink: S,
    ) -> Result<(), Error> {
        if self.subs.contains_key(&space) {
            return Err(Error::AlreadySubscribed(space));
        }
        if self.ready() {
            let frame = self.subscribe_frame(&space, password.as_deref());
            self.emit(Output::Transmit(frame));
        }
        self.subs.insert(
            space,
            Sub {
                password,
                sink,
                answered: false,
            },
        );
        Ok(())
    }

    /// Stops delivering `space` (UNSUBSCRIBE_CHANNEL if connected); `false` if not subscribed.
    pub(crate) fn unsubscribe(&mut self, space: &str) -> bool {
        if self.subs.remove(space).is_none() {
            return false;
        }
        if self.ready() {
            let frame = channel_frame(
                &self.settings.namespace,
                "UNSUBSCRIBE_CHANNEL",
                &crate::types::UnsubscribeChannel {
                    channel: channel(space, None),
                },
            );
            self.emit(Output::Transmit(frame));
        }
        true
    }

    /// Forgets the subscriptions whose sink `gone` says is gone (their stream was dropped).
    pub(crate) fn forget(&mut self, gone: impl Fn(&S) -> bool) {
        self.subs.retain(|_, sub| !gone(&sub.sink));
    }

    /// The namespace accepted the connection: every subscription (again, after a reconnect:
    /// the server forgot them), then the sends that waited.
    pub(super) fn accepted(&mut self) {
        let link = self.link.as_mut().expect("a packet arrives on a link");
        link.ready = true;
        info!(
            namespace = self.settings.namespace,
            subscriptions = self.subs.len(),
            "connected"
        );
        self.emit(Output::Connected);
        let frames: Vec<Frame> = self
            .subs
            .iter()
            .map(|(space, sub)| self.subscribe_frame(space, sub.password.as_deref()))
            .collect();
        for frame in frames {
            self.emit(Output::Transmit(frame));
        }
        while let Some((ticket, frame)) = self.outbox.pop_front() {
            self.emit(Output::Send { ticket, frame });
        }
    }

    pub(super) fn subscribe_frame(&self, space: &str, password: Option<&str>) -> Frame {
        channel_frame(
            &self.settings.namespace,
            "SUBSCRIBE_CHANNEL",
            &SubscribeChannel {
                channel: channel(space, password),
                version: None,
            },
        )
    }

    pub(super) fn subscribed(&mut self, payload: &RawValue) {
        let ok = match serde_json::from_str::<ChannelSubscribed>(payload.get()) {
            Ok(ok) => ok,
            Err(e) => {
                return self.report(Error::Malformed {
                    event: "CHANNEL_SUBSCRIBED",
                    reason: e.to_string(),
                });
            }
        };
        if let Some(sub) = self.subs.get_mut(&ok.channel.id) {
            if sub.answered {
                // A re-subscription after a reconnect: the stream learns of the gap.
                debug!(space = ok.channel.id, "re-subscribed");
                let sink = sub.sink.clone();
                self.emit(Output::Deliver(sink, Err(Error::Gap(ok.channel.id))));
            } else {
                sub.answered = true;
                debug!(space = ok.channel.id, "subscribed");
                self.emit(Output::Answer {
                    space: ok.channel.id,
                    result: Ok(()),
                });
            }
        }
    }

    pub(super) fn refused(&mut self, payload: &RawValue) {
        let failed = serde_json::from_str::<SubscribeChannelFailed>(payload.get());
        let (space, code, message) = match &failed {
            Ok(f) => (
                f.channel.as_ref().map(|c| c.id.clone()),
                f.error.code.clone().unwrap_or_default(),
                f.error.message.clone().unwrap_or_default(),
            ),
            Err(_) => (None, String::new(), payload.get().to_owned()),
        };
        // The answer names its space; if not, it is for an unanswered subscription.
        let space = space.filter(|s| self.subs.contains_key(s)).or_else(|| {
            self.subs
                .iter()
                .find(|(_, s)| !s.answered)
                .map(|(k, _)| k.clone())
        });
        let Some((space, sub)) = space.and_then(|s| self.subs.remove_entry(&s)) else {
            return;
        };
        warn!(space, code, message, "subscription refused");
        let error = Error::SubscribeRefused {
            space: space.clone(),
            code,
            message,
        };
        self.emit(if sub.answered {
            // A re-subscription after a reconnect: the stream learns why it ends.
            Output::Deliver(sub.sink, Err(error))
        } else {
            Output::Answer {
                space,
                result: Err(error),
            }
        });
    }
}

fn channel(space: &str, password: Option<&str>) -> Channel {
    Channel {
        id: space.to_owned(),
        password: password.map(str::to_owned),
        type_: Some("topic".to_owned()),
    }
}

/// A Spaces channel event (SUBSCRIBE_CHANNEL, UNSUBSCRIBE_CHANNEL) as an Engine.IO frame.
fn channel_frame(namespace: &str, name: &str, payload: &impl serde::Serialize) -> Frame {
    let payload = serde_json::value::to_raw_value(payload).expect("a generated type serializes");
    message_text(encode_event(namespace, None, name, &[&payload]))
}
