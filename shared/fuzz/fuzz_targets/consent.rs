//! Consent tokens, notices and proposals from the network, and the state machine fed with them.
#![no_main]

use assent_shared::consent::fixtures::{T0, identities, proposal};
use assent_shared::consent::{ConsentMachine, ConsentToken, Input, Proposal, SignedNotice};
use std::sync::LazyLock;

use assent_shared::SecretIdentity;
use libfuzzer_sys::fuzz_target;

static IDS: LazyLock<Vec<SecretIdentity>> = LazyLock::new(|| identities(2));

fuzz_target!(|data: &[u8]| {
    let ids = &*IDS;
    let p = proposal(ids);
    let mut m = ConsentMachine::new(ids[0].public().clone(), p.terms.call_id);
    m.handle(T0, Input::Joined(ids[1].public().clone()));
    m.handle(
        T0,
        Input::Propose {
            proposal: p.clone(),
            token: ConsentToken::sign(&ids[0], &p, T0),
        },
    );
    if let Ok(t) = ConsentToken::from_bytes(data) {
        let _ = t.verify(&p);
        m.handle(T0, Input::Token(t));
    }
    if let Ok(n) = SignedNotice::from_bytes(data) {
        let _ = n.verify(&p);
        m.handle(T0, Input::Notice(n));
    }
    if let Ok(q) = Proposal::from_bytes(data) {
        let mut fresh = ConsentMachine::new(ids[0].public().clone(), q.terms.call_id);
        let token = ConsentToken::sign(&ids[0], &q, T0);
        fresh.handle(T0, Input::Propose { proposal: q, token });
    }
});
