//! Sources that renew their tokens against the simulator: OAuth2 credentials shared by two
//! sources (as by two processes: each opens the file and its lock itself), and guest tokens.

use std::time::Duration;

use spaces_events::auth::{Credentials, OAuth2};
use spaces_events::rest::Rest;
use spaces_events_tests::browse;
use spaces_sim::{Scenario, Simulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_sharing_a_file_take_turns_and_never_spend_a_refresh_token_twice() {
    let sim = Simulator::new()
        .scenario(Scenario::default())
        .token_lifetime(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("se-oauth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("credentials.json");
    let authorization = OAuth2::new(&path)
        .login("shared")
        .identity_url(sim.identity_url())
        .start()
        .await
        .unwrap();
    let url = authorization.url().to_owned();
    let (signed_in, page) =
        tokio::join!(authorization.finish(std::future::pending()), browse(&url));
    signed_in.unwrap();
    assert_eq!((page, sim.oauth_tokens_issued()), (200, 1));

    let (a, b) = (OAuth2::new(&path), OAuth2::new(&path));
    let rounds = 5;
    for round in 1..=rounds {
        let (ta, tb) = tokio::join!(a.token(None), b.token(None));
        let (ta, tb) = (ta.unwrap(), tb.unwrap());
        assert_eq!(ta, tb, "round {round}: one refresh, used by both");
        assert!(sim.accepts(ta.expose()), "round {round}");
        // Past the token's renewal time (a fifth of its 2 s early).
        tokio::time::sleep(Duration::from_millis(1700)).await;
    }
    // The login's token, then one refresh a round: never two (a spent refresh token would be
    // `invalid_grant`, fatal).
    assert_eq!(sim.oauth_tokens_issued(), rounds);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file["type"], "spaces_oauth");

    // A refused token is replaced at once, before it expires.
    let kept = a.token(None).await.unwrap();
    let fresh = a.token(Some(&kept)).await.unwrap();
    assert_ne!(kept, fresh);
    assert!(sim.accepts(fresh.expose()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_guest_token_is_renewed_a_fifth_of_its_life_before_it_expires() {
    let sim = Simulator::new()
        .scenario(Scenario::default())
        .token_lifetime(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let guests = Rest::builder(sim.api_url())
        .build()
        .unwrap()
        .guests("Bot", "bot-1");
    let first = guests.token(None).await.unwrap();
    assert_eq!(guests.token(None).await.unwrap(), first, "kept while fresh");
    // The JWT's `exp` is in whole seconds: it ends 4–5 s from now, renewal is due by 4 s.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert!(sim.accepts(first.expose()), "not expired yet");
    let second = guests.token(None).await.unwrap();
    assert_ne!(second, first, "renewed before it expired");
    assert!(sim.accepts(second.expose()));
}
