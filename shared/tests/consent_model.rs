//! Exhaustive model check of the consent state machine.
//!
//! Breadth-first search over every state reachable from a set of starting configurations, with
//! up to four participants, under every input the network or a user can produce at each step
//! (proposals, valid/stale/foreign/forged tokens, declines, withdrawals, joins, leaves, time
//! passing). At every reachable state it checks the safety invariant: **media is written only
//! while every present participant holds a valid token for an epoch whose set contains them**;
//! and that the writer, driven only by the emitted effects, agrees with the machine.

use std::collections::{HashMap, HashSet, VecDeque};

use assent_shared::consent::fixtures::{T0, identities, terms};
use assent_shared::consent::{
    ConsentMachine, ConsentToken, Effect, Input, NoticeKind, Phase, Proposal, SignedNotice,
};
use assent_shared::{CallId, Digest, SecretIdentity, Timestamp};

struct World {
    ids: Vec<SecretIdentity>,
    tokens: HashMap<(usize, Digest), ConsentToken>,
    notices: HashMap<(usize, bool, Digest), SignedNotice>,
}

impl World {
    fn token(&mut self, who: usize, p: &Proposal) -> ConsentToken {
        let ids = &self.ids;
        self.tokens
            .entry((who, p.digest()))
            .or_insert_with(|| ConsentToken::sign(&ids[who], p, T0))
            .clone()
    }

    fn notice(&mut self, who: usize, kind: NoticeKind, p: &Proposal) -> SignedNotice {
        let ids = &self.ids;
        self.notices
            .entry((who, kind == NoticeKind::Decline, p.digest()))
            .or_insert_with(|| SignedNotice::sign(&ids[who], kind, p, T0))
            .clone()
    }

    fn proposal(&self, present: &[usize]) -> Proposal {
        // The first participant present proposes (and records).
        Proposal::new(
            terms(&self.ids[present[0]]),
            present
                .iter()
                .map(|&i| self.ids[i].public().clone())
                .collect(),
        )
        .unwrap()
    }

    fn index_of(&self, m: &ConsentMachine) -> Vec<usize> {
        let keys: Vec<_> = m.present().copied().collect();
        (0..self.ids.len())
            .filter(|&i| keys.contains(&self.ids[i].key()))
            .collect()
    }

    /// Every input worth trying in this state.
    fn inputs(&mut self, m: &ConsentMachine) -> Vec<Input> {
        let present = self.index_of(m);
        let n = self.ids.len();
        let mut v = Vec::new();
        match m.session() {
            None => {
                if let Some(&proposer) = present.first() {
                    let p = self.proposal(&present);
                    let token = self.token(proposer, &p);
                    v.push(Input::Propose {
                        proposal: p.clone(),
                        token,
                    });
                    // The same proposal in the proposer's name, signed by someone else.
                    let other = (proposer + 1) % n;
                    let token = self.token(other, &p);
                    v.push(Input::Propose { proposal: p, token });
                }
                // A proposal naming someone who is not here.
                let absent: Vec<usize> = (0..n).filter(|i| !present.contains(i)).collect();
                if let Some(&a) = absent.first() {
                    let mut wrong = present.clone();
                    wrong.push(a);
                    wrong.sort();
                    let p = self.proposal(&wrong);
                    let token = self.token(wrong[0], &p);
                    v.push(Input::Propose { proposal: p, token });
                }
                v.push(Input::Token(self.token(1, &self.proposal(&present))));
            }
            Some(s) => {
                let current = s.current().clone();
                let first = s.epochs()[0].clone();
                for who in 0..n {
                    v.push(Input::Token(self.token(who, &current)));
                    if current.epoch != 0 {
                        v.push(Input::Token(self.token(who, &first)));
                    }
                    // A token for the same recording in another call.
                    let mut foreign = current.clone();
                    foreign.terms.call_id = CallId([0x99; 16]);
                    v.push(Input::Token(self.token(who, &foreign)));
                    v.push(Input::Notice(self.notice(
                        who,
                        NoticeKind::Decline,
                        &current,
                    )));
                    v.push(Input::Notice(self.notice(
                        who,
                        NoticeKind::Withdraw,
                        &first,
                    )));
                }
                // A forged token: signer field says 1, signature by 2.
                let mut forged = self.token(2 % n, &current);
                forged.body.signer = self.ids[1].key();
                v.push(Input::Token(forged));
            }
        }
        for who in 0..n {
            if present.contains(&who) {
                v.push(Input::Left(self.ids[who].key()));
            } else {
                v.push(Input::Joined(self.ids[who].public().clone()));
            }
        }
        v.push(Input::Tick);
        v
    }
}

/// A short name for an input in a failure's trace (formatting the whole input for each of
/// the millions of steps would cost more than the search).
fn describe(input: &Input) -> String {
    let short = |k: &assent_shared::IdentityKey| k.short();
    match input {
        Input::Propose { proposal, token } => format!(
            "Propose(set {}, by {})",
            proposal.participants.len(),
            short(&token.signer())
        ),
        Input::Sync { epochs, tokens } => {
            format!("Sync({} epochs, {} tokens)", epochs.len(), tokens.len())
        }
        Input::Token(t) => format!("Token({} for epoch {})", short(&t.signer()), t.body.epoch),
        Input::Notice(n) => format!("Notice({:?} by {})", n.body.kind, short(&n.body.signer)),
        Input::Joined(id) => format!("Joined({})", short(&id.signing)),
        Input::Left(k) => format!("Left({})", short(k)),
        Input::Tick => "Tick".into(),
    }
}

fn now_for(input: &Input) -> Timestamp {
    match input {
        Input::Tick => T0.plus_millis(2 * 3600 * 1000),
        _ => T0.plus_millis(1),
    }
}

/// Check the invariants of one state; `writer` is what the effects say about writing.
/// Token verifications already done (tokens are deterministic here, and the invariant checks
/// each state's tokens again: the model's own cost, not the machine's).
type Checked = HashMap<(Vec<u8>, Digest), bool>;

fn valid(checked: &mut Checked, t: &ConsentToken, p: &Proposal) -> bool {
    *checked
        .entry((t.to_bytes(), p.digest()))
        .or_insert_with(|| t.verify(p).is_ok())
}

fn check(m: &ConsentMachine, writer: bool, checked: &mut Checked) -> Result<(), String> {
    if let Some(s) = m.session() {
        let p0 = &s.epochs()[0];
        let signed_by_proposer = s
            .tokens()
            .any(|t| t.signer() == p0.terms.proposer && t.body.epoch == 0 && valid(checked, t, p0));
        if !signed_by_proposer {
            return Err("a recording the proposer never signed".into());
        }
    }
    if writer != m.is_writing() {
        return Err(format!(
            "writer {writer} but machine says {}",
            m.is_writing()
        ));
    }
    let present: Vec<_> = m.present().copied().collect();
    match m.phase() {
        Phase::Idle => {}
        Phase::Collecting(s) => {
            if s.covers(&present) {
                return Err("everyone consented but recording did not start".into());
            }
        }
        Phase::Active { session, writing } => {
            let current = session.current();
            let covered = present.iter().all(|k| {
                current.is_member(k)
                    && session.tokens().any(|t| {
                        &t.signer() == k
                            && t.body.epoch == current.epoch
                            && valid(checked, t, current)
                    })
            });
            if *writing && !covered {
                return Err("writing while a present participant lacks a valid token".into());
            }
            if !*writing && covered {
                return Err("paused although everyone present consented".into());
            }
        }
    }
    Ok(())
}

fn explore(me: usize, initially_present: &[usize], participants: u8) -> usize {
    let mut world = World {
        ids: identities(participants),
        tokens: HashMap::new(),
        notices: HashMap::new(),
    };
    let call = terms(&world.ids[0]).call_id;
    let mut start = ConsentMachine::new(world.ids[me].public().clone(), call);
    for &i in initially_present {
        start.handle(T0, Input::Joined(world.ids[i].public().clone()));
    }
    let mut seen: HashSet<(ConsentMachine, bool)> = HashSet::new();
    let mut checked = Checked::new();
    let mut queue = VecDeque::new();
    seen.insert((start.clone(), false));
    queue.push_back((start, false, Vec::<String>::new()));
    while let Some((m, writer, trace)) = queue.pop_front() {
        for input in world.inputs(&m) {
            let mut next = m.clone();
            let label = describe(&input);
            let effects = next.handle(now_for(&input), input);
            let mut w = writer;
            for e in &effects {
                match e {
                    Effect::StartWriting { .. } | Effect::ResumeWriting { .. } => {
                        assert!(
                            !w,
                            "start/resume while already writing; trace {trace:?} + {label}"
                        );
                        w = true;
                    }
                    Effect::PauseWriting => {
                        assert!(w, "pause while not writing; trace {trace:?} + {label}");
                        w = false;
                    }
                    Effect::StopWriting(_) => w = false,
                    _ => {}
                }
            }
            if let Err(why) = check(&next, w, &mut checked) {
                panic!(
                    "invariant broken: {why}\ntrace: {trace:?}\nthen: {label}\neffects: {effects:?}"
                );
            }
            if seen.insert((next.clone(), w)) {
                let mut t = trace.clone();
                t.push(label);
                queue.push_back((next, w, t));
            }
        }
    }
    seen.len()
}

#[test]
fn recorder_view_two_present_up_to_four() {
    let states = explore(0, &[1], 4);
    eprintln!("recorder, start {{A,B}}, universe 4: {states} states");
    assert!(
        states > 500,
        "the search should reach many states, got {states}"
    );
}

#[test]
fn participant_view_up_to_four() {
    // B's machine, A records: covers "the recorder left".
    let states = explore(1, &[0, 2], 4);
    eprintln!("participant, start {{A,B,C}}, universe 4: {states} states");
    assert!(states > 500);
}

#[test]
fn alone_then_others_join() {
    let states = explore(0, &[], 3);
    eprintln!("recorder alone, universe 3: {states} states");
    assert!(states > 50);
}
