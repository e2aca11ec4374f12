//! The session fed frames and instants, no I/O: what it sends, delivers and decides.

use super::*;

impl<S: Clone> Session<S> {
    /// [`Session::text`] of a frame copied from `text`.
    fn text_str(&mut self, text: &str, now: Instant) -> Result<(), End> {
        self.text(&Text::from(text), now)
    }
}

/// Sinks are plain names here.
type Sink = &'static str;

const OPEN: &str = r#"0{"sid":"abc","upgrades":[],"pingInterval":1000,"pingTimeout":3000}"#;

fn session() -> Session<Sink> {
    Session::new(Settings {
        namespace: "/chat".into(),
        heartbeat_deadline: None,
        max_json_depth: 64,
    })
}

fn ms(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

/// The frames to write, as text.
fn sent(s: &mut Session<Sink>) -> Vec<String> {
    s.outputs()
        .filter_map(|o| match o {
            Output::Transmit(Frame::Text(t))
            | Output::Send {
                frame: Frame::Text(t),
                ..
            } => Some(t),
            _ => None,
        })
        .collect()
}

/// Deliveries as (sink, `_id` or the error).
fn delivered(s: &mut Session<Sink>) -> Vec<(Sink, String)> {
    s.outputs()
        .filter_map(|o| match o {
            Output::Deliver(sink, Ok(e)) => Some((sink, e.id().unwrap_or_default().to_owned())),
            Output::Deliver(sink, Err(e)) => Some((sink, format!("error: {e}"))),
            _ => None,
        })
        .collect()
}

fn media(space: &str, id: &str) -> String {
    format!(
        r#"42/chat,["MEDIA_SESSION_RESPONSE",{{"category":"app.event.attendee.added","topicId":"{space}","_id":"{id}"}}]"#
    )
}

/// A session connected at `t0` with `s1` subscribed and answered.
fn connected(t0: Instant) -> Session<Sink> {
    let mut s = session();
    s.subscribe("s1".into(), None, "one").unwrap();
    s.start(Some("token=t&tokenType=jwt"), ms(t0, 20_000));
    s.text_str(OPEN, t0).unwrap();
    s.text_str("40/chat,", t0).unwrap();
    s.text_str(
        r#"42/chat,["CHANNEL_SUBSCRIBED",{"channel":{"_id":"s1"}}]"#,
        t0,
    )
    .unwrap();
    s.outputs().for_each(drop);
    s
}

#[test]
fn connects_after_the_open_packet_and_subscribes_once_accepted() {
    let t0 = Instant::now();
    let mut s = session();
    s.subscribe("s1".into(), Some("1234".into()), "one")
        .unwrap();
    s.start(Some("token=t&tokenType=jwt"), ms(t0, 20_000));
    assert!(sent(&mut s).is_empty(), "nothing before the open packet");
    s.text_str(OPEN, t0).unwrap();
    assert!(s.wants_write(), "a burst of reads stops for the CONNECT");
    assert_eq!(sent(&mut s), ["40/chat?token=t&tokenType=jwt,"]);
    assert!(!s.wants_write());
    s.text_str("40/chat,", t0).unwrap();
    let outputs: Vec<_> = s.outputs().collect();
    assert!(matches!(outputs[0], Output::Connected));
    assert!(matches!(
        &outputs[1],
        Output::Transmit(Frame::Text(t))
            if t == r#"42/chat,["SUBSCRIBE_CHANNEL",{"channel":{"_id":"s1","password":"1234","type":"topic"}}]"#
    ));
    s.text_str(
        r#"42/chat,["CHANNEL_SUBSCRIBED",{"channel":{"_id":"s1"}}]"#,
        t0,
    )
    .unwrap();
    assert!(matches!(
        s.outputs().next(),
        Some(Output::Answer { space, result: Ok(()) }) if space == "s1"
    ));
    assert_eq!(
        s.goodbye(),
        Some(Frame::Text("41/chat,".into())),
        "leaves the namespace on close"
    );
}

#[test]
fn events_go_to_their_space_in_order() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    s.subscribe("s2".into(), None, "two").unwrap();
    s.outputs().for_each(drop);
    for (space, id) in [("s1", "a"), ("s2", "b"), ("s3", "c"), ("s1", "d")] {
        s.text_str(&media(space, id), t0).unwrap();
    }
    assert!(!s.wants_write(), "deliveries alone do not stop a burst");
    assert_eq!(
        delivered(&mut s),
        [
            ("one", "a".into()),
            ("two", "b".into()),
            ("one", "d".into())
        ]
    );
}

#[test]
fn bad_input_is_reported_and_the_connection_goes_on() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    // Undecodable payload of a known space: that stream learns of it.
    s.text_str(
        r#"42/chat,["MEDIA_SESSION_RESPONSE",{"category":1,"topicId":"s1"}]"#,
        t0,
    )
    .unwrap();
    // A malformed packet: every answered subscription learns of it.
    s.text_str("42/chat,[", t0).unwrap();
    s.text_str("9", t0).unwrap();
    s.text_str(&format!("42/chat,{}", "[".repeat(100)), t0)
        .unwrap();
    let errors = delivered(&mut s);
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].1.contains("undecodable"), "{errors:?}");
    assert!(errors[3].1.contains("deeper than 64"), "{errors:?}");
    s.text_str(&media("s1", "after"), t0).unwrap();
    assert_eq!(delivered(&mut s), [("one", "after".into())]);
}

#[test]
fn pings_at_the_interval_and_dies_without_an_answer() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    assert_eq!(s.deadline(), Some(ms(t0, 1000)));
    s.timeout(ms(t0, 1000)).unwrap();
    assert_eq!(sent(&mut s), ["2"]);
    // The pong deadline (pingTimeout, 3 s) after the unanswered ping.
    assert_eq!(s.deadline(), Some(ms(t0, 2000)));
    s.timeout(ms(t0, 2000)).unwrap();
    assert_eq!(sent(&mut s), ["2"], "pings go on while unanswered");
    assert!(s.timeout(ms(t0, 3999)).is_ok());
    assert!(matches!(
        s.timeout(ms(t0, 4000)),
        Err(End::Lost(Error::Timeout(Timeout::Heartbeat)))
    ));
}

#[test]
fn any_frame_answers_a_ping() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    s.timeout(ms(t0, 1000)).unwrap();
    s.text_str("3", ms(t0, 1100)).unwrap();
    assert_eq!(
        s.deadline(),
        Some(ms(t0, 2000)),
        "only the next ping is due"
    );
    assert!(s.timeout(ms(t0, 4500)).is_ok());
}

#[test]
fn a_paused_reader_keeps_pinging_and_suspends_the_deadline() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    s.pause(true);
    for at in [1000, 2000, 3000, 4000, 5000] {
        s.timeout(ms(t0, at)).unwrap();
        assert_eq!(sent(&mut s), ["2"]);
    }
    // Reading resumes: the heartbeat clock starts again.
    s.pause(false);
    s.timeout(ms(t0, 6000)).unwrap();
    assert!(s.timeout(ms(t0, 8999)).is_ok());
    assert!(s.timeout(ms(t0, 9000)).is_err());
}

#[test]
fn a_shorter_heartbeat_deadline_wins() {
    let t0 = Instant::now();
    let mut s = Session::<Sink>::new(Settings {
        namespace: "/chat".into(),
        heartbeat_deadline: Some(Duration::from_millis(500)),
        max_json_depth: 64,
    });
    s.start(None, ms(t0, 20_000));
    s.text_str(OPEN, t0).unwrap();
    s.text_str("40/chat,", t0).unwrap();
    s.timeout(ms(t0, 1000)).unwrap();
    assert!(s.timeout(ms(t0, 1500)).is_err());
}

#[test]
fn the_namespace_must_accept_in_time() {
    let t0 = Instant::now();
    let mut s = session();
    s.start(None, ms(t0, 500));
    s.text_str(OPEN, t0).unwrap();
    assert_eq!(s.deadline(), Some(ms(t0, 500)));
    assert!(matches!(
        s.timeout(ms(t0, 500)),
        Err(End::Lost(Error::Timeout(Timeout::Namespace)))
    ));
}

#[test]
fn how_a_connection_ends() {
    let t0 = Instant::now();
    let end = |frame: &str| connected(t0).text_str(frame, t0);
    assert!(
        matches!(end(r#"44/chat,"Not authorized""#), Err(End::Rejected(r)) if r == "Not authorized")
    );
    assert!(matches!(end(r#"44/chat,{"message":"no"}"#), Err(End::Rejected(r)) if r == "no"));
    assert!(matches!(end(r#"44"bad root""#), Err(End::Rejected(r)) if r == "bad root"));
    assert!(matches!(end("41/chat,"), Err(End::Lost(_))));
    assert!(matches!(end("1"), Err(End::Lost(_))));
    assert!(end("41/other,").is_ok());
}

#[test]
fn a_refused_subscription_is_answered_and_forgotten() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    s.subscribe("bad".into(), None, "bad").unwrap();
    s.outputs().for_each(drop);
    s.text_str(
        r#"42/chat,["SUBSCRIBE_CHANNEL_FAILED",{"channel":{"_id":"bad"},"error":{"code":"not.a.member","message":"no"}}]"#,
        t0,
    )
    .unwrap();
    assert!(matches!(
        s.outputs().next(),
        Some(Output::Answer { space, result: Err(Error::SubscribeRefused { code, .. }) })
            if space == "bad" && code == "not.a.member"
    ));
    assert!(s.subscribe("bad".into(), None, "bad").is_ok(), "forgotten");
    assert!(matches!(
        s.subscribe("s1".into(), None, "one"),
        Err(Error::AlreadySubscribed(_))
    ));
}

#[test]
fn a_refused_resubscription_ends_its_stream() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    assert!(s.reset(), "the namespace had accepted");
    s.start(None, ms(t0, 20_000));
    s.text_str(OPEN, t0).unwrap();
    s.text_str("40/chat,", t0).unwrap();
    assert_eq!(
        sent(&mut s),
        [
            "40/chat,",
            r#"42/chat,["SUBSCRIBE_CHANNEL",{"channel":{"_id":"s1","type":"topic"}}]"#
        ]
    );
    s.text_str(
        r#"42/chat,["SUBSCRIBE_CHANNEL_FAILED",{"channel":{"_id":"s1"},"error":{"code":"gone"}}]"#,
        t0,
    )
    .unwrap();
    assert!(matches!(
        s.outputs().next(),
        Some(Output::Deliver("one", Err(Error::SubscribeRefused { .. })))
    ));
}

#[test]
fn sends_wait_for_the_namespace_up_to_a_limit() {
    let t0 = Instant::now();
    let mut s = session();
    let payload = RawValue::from_string(r#"{"category":"tracksstatus"}"#.into()).unwrap();
    let first = s.send("SEND_MEDIA_SESSION_EVENTS", &payload).unwrap();
    for _ in 1..OUTBOX {
        s.send("SEND_MEDIA_SESSION_EVENTS", &payload).unwrap();
    }
    assert!(matches!(
        s.send("SEND_MEDIA_SESSION_EVENTS", &payload),
        Err(Error::SendQueueFull(OUTBOX))
    ));
    s.start(None, ms(t0, 20_000));
    s.text_str(OPEN, t0).unwrap();
    s.text_str("40/chat,", t0).unwrap();
    let sends: Vec<u64> = s
        .outputs()
        .filter_map(|o| match o {
            Output::Send { ticket, .. } => Some(ticket),
            _ => None,
        })
        .collect();
    assert_eq!((sends.len(), sends[0]), (OUTBOX, first));
}

#[test]
fn raw_events_take_every_event() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    s.set_raw(true);
    s.text_str(&media("s1", "a"), t0).unwrap();
    s.text_str(r#"42/chat,["PRESENCE_EVENT_RESPONSE",{"x":1}]"#, t0)
        .unwrap();
    let names: Vec<String> = s
        .outputs()
        .filter_map(|o| match o {
            Output::Raw(e) => Some(e.name),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["MEDIA_SESSION_RESPONSE", "PRESENCE_EVENT_RESPONSE"]);
}

#[test]
fn binary_events_are_reassembled() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    s.set_raw(true);
    s.text_str(r#"451-/chat,["FILE",{"_placeholder":true,"num":0}]"#, t0)
        .unwrap();
    assert!(s.outputs().next().is_none());
    s.binary(&[4, 1, 2, 3]);
    assert!(matches!(
        s.outputs().next(),
        Some(Output::Raw(RawEvent { name, attachments, .. })) if name == "FILE" && attachments == [vec![1, 2, 3]]
    ));
}

#[test]
fn an_engine_io_4_ping_is_answered() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    s.text_str("2probe", t0).unwrap();
    assert_eq!(sent(&mut s), ["3probe"]);
}

#[test]
fn unsubscribing_stops_delivery() {
    let t0 = Instant::now();
    let mut s = connected(t0);
    assert!(s.unsubscribe("s1"));
    assert_eq!(
        sent(&mut s),
        [r#"42/chat,["UNSUBSCRIBE_CHANNEL",{"channel":{"_id":"s1","type":"topic"}}]"#]
    );
    s.text_str(&media("s1", "a"), t0).unwrap();
    assert!(delivered(&mut s).is_empty());
    assert!(!s.unsubscribe("s1"));
}

#[test]
fn the_fuzz_harness_runs_captured_frames() {
    fuzz_frames(b"\x000{\"sid\":\"a\",\"pingInterval\":1,\"pingTimeout\":1}\xff\x0040/chat,\xff\x01\x04\x00");
}

#[test]
fn the_frames_fuzz_corpus_replays() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for dir in ["corpus/frames", "seeds/frames"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            fuzz_frames(&std::fs::read(entry.expect("entry").path()).expect("readable"));
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no frames corpus under {}", root.display());
}
