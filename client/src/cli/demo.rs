//! `assent demo`: the whole consent protocol run locally by four simulated participants, each
//! with their own keys and their own consent machine, exchanging only signed messages; the
//! recorder writes a real encrypted recording that is then verified like any other.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use assent_shared::consent::{
    ConsentMachine, ConsentToken, Effect, Input, NoticeKind, Proposal, Scope, SignedNotice, Terms,
};
use assent_shared::container::{DirStore, RecordingWriter, Track, verify};
use assent_shared::identity::safety_number;
use assent_shared::{CallId, DeviceId, IdentityKey, RecordingId, SecretIdentity, Timestamp};
use clap::Args;
use secrecy::ExposeSecret;

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Where to write the recording and the participants' age identity files
    /// (default: a new directory under the system's temporary directory).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
}

const NAMES: [&str; 4] = ["Alice", "Bob", "Carol", "Dave"];

struct Person {
    name: &'static str,
    id: Arc<SecretIdentity>,
    machine: ConsentMachine,
    here: bool,
}

struct Demo {
    people: Vec<Person>,
    now: Timestamp,
    writer: Option<RecordingWriter<DirStore>>,
    store: DirStore,
    next_start_ms: u64,
    segment: u32,
}

impl Demo {
    fn name_of(&self, key: &IdentityKey) -> &'static str {
        self.people
            .iter()
            .find(|p| &p.id.key() == key)
            .map(|p| p.name)
            .unwrap_or("someone")
    }

    /// Deliver an input to everyone present; act on the recorder's (Alice's) effects.
    fn broadcast(&mut self, input: Input) -> anyhow::Result<()> {
        for i in 0..self.people.len() {
            if !self.people[i].here {
                continue;
            }
            let effects = self.people[i].machine.handle(self.now, input.clone());
            self.apply(i, effects)?;
        }
        Ok(())
    }

    fn apply(&mut self, who: usize, effects: Vec<Effect>) -> anyhow::Result<()> {
        let recorder = who == 0;
        for e in effects {
            match e {
                Effect::Rejected(err) => {
                    bail!("{} rejected a message: {err}", self.people[who].name)
                }
                Effect::AskConsent(p) => {
                    println!(
                        "  {} sees the consent dialog: \"{}\" by {}, {:?}, {} days",
                        self.people[who].name,
                        p.terms.title,
                        self.name_of(&p.terms.proposer),
                        p.terms.scope,
                        p.terms.retention_days
                    );
                }
                Effect::StartWriting { epoch } if recorder => {
                    println!(
                        "  recorder: every participant present has signed: START writing (epoch {epoch})"
                    );
                    let session = self.people[0].machine.session().context("no session")?;
                    let tokens: Vec<ConsentToken> = session.tokens().cloned().collect();
                    let w = RecordingWriter::create(
                        self.store.clone(),
                        self.people[0].id.clone(),
                        session.epochs(),
                        &tokens,
                        self.now,
                    )?;
                    self.writer = Some(w);
                }
                Effect::PauseWriting if recorder => {
                    println!("  recorder: someone present has not consented: PAUSE")
                }
                Effect::ResumeWriting { epoch } if recorder => {
                    println!("  recorder: consent complete again: RESUME (epoch {epoch})");
                    let session = self.people[0].machine.session().context("no session")?;
                    let tokens: Vec<ConsentToken> = session.tokens().cloned().collect();
                    let epochs = session.epochs().to_vec();
                    self.writer
                        .as_mut()
                        .context("no writer")?
                        .update_consent(&epochs, &tokens)?;
                }
                Effect::StopWriting(reason) if recorder => {
                    println!(
                        "  recorder: STOP ({})",
                        super::recordings::ending(Some(&reason))
                    );
                    if let Some(w) = self.writer.take() {
                        w.finish(self.now, Some(reason))?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn sign(&mut self, who: usize) -> anyhow::Result<()> {
        let proposal = self.people[who]
            .machine
            .session()
            .context("nothing to sign")?
            .current()
            .clone();
        println!("  {} agrees and signs", self.people[who].name);
        let token = ConsentToken::sign(&self.people[who].id, &proposal, self.now);
        self.broadcast(Input::Token(token))
    }

    fn record(&mut self, seconds: u32) -> anyhow::Result<()> {
        for _ in 0..seconds / 2 {
            self.now = self.now.plus_millis(2000);
            let writing = self.people[0].machine.is_writing();
            if let (true, Some(w)) = (writing, self.writer.as_mut()) {
                let present: Vec<IdentityKey> = self
                    .people
                    .iter()
                    .filter(|p| p.here)
                    .map(|p| p.id.key())
                    .collect();
                // Real media (the format a call's recorder writes): a test picture and tone.
                let media = assent_engine::synthetic_segment(2000, "demo")?;
                w.write_segment(Track::Media, &media, &present, self.next_start_ms, 2000)?;
                self.segment += 1;
                if self.segment == 1 {
                    // The chat while recording is kept too (one JSON line per message).
                    let at = self.now.0;
                    let chat = format!(
                        "{}\n{}\n",
                        serde_json::json!({"from": "Alice", "text": "Thanks, everyone. Recording now.", "at": at}),
                        serde_json::json!({"from": "Bob", "text": "Go ahead.", "at": at + 1200}),
                    );
                    w.write_segment(
                        Track::Chat,
                        chat.as_bytes(),
                        &present,
                        self.next_start_ms,
                        2000,
                    )?;
                    self.segment += 1;
                }
            }
            self.next_start_ms += 2000;
        }
        Ok(())
    }
}

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("assent-demo-{}", RecordingId::random())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let rec_dir = dir.join("recording");
    if rec_dir.exists() {
        bail!(
            "{} already holds a recording; choose another --dir",
            rec_dir.display()
        );
    }
    let now = Timestamp::now();
    let call = CallId::random();
    println!("Assent demo: four people, one call ({call}), nothing leaves this machine.\n");
    let ids: Vec<Arc<SecretIdentity>> = NAMES
        .iter()
        .map(|_| Arc::new(SecretIdentity::generate(now)))
        .collect();
    for (n, id) in NAMES.iter().zip(&ids) {
        println!("{n:<6} fingerprint {}", id.public().fingerprint());
    }
    println!(
        "Alice and Bob compare safety number {}\n",
        safety_number(ids[0].public(), ids[1].public())
    );
    let mut d = Demo::new(&ids, call, now, DirStore::open(&rec_dir)?)?;
    d.alice_proposes(&ids, call)?;
    d.dave_joins(&ids)?;
    d.bob_withdraws(&ids)?;
    summary(&dir, &rec_dir, &ids)
}

impl Demo {
    /// Alice, Bob and Carol in the call (Dave not yet), each knowing the others.
    fn new(
        ids: &[Arc<SecretIdentity>],
        call: CallId,
        now: Timestamp,
        store: DirStore,
    ) -> anyhow::Result<Demo> {
        let people = NAMES
            .iter()
            .zip(ids)
            .enumerate()
            .map(|(i, (name, id))| Person {
                name,
                id: id.clone(),
                machine: ConsentMachine::new(id.public().clone(), call),
                here: i < 3,
            })
            .collect();
        let mut d = Demo {
            people,
            now,
            writer: None,
            store,
            next_start_ms: 0,
            segment: 0,
        };
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    let bundle = d.people[j].id.public().clone();
                    let fx = d.people[i].machine.handle(now, Input::Joined(bundle));
                    d.apply(i, fx)?;
                }
            }
        }
        Ok(d)
    }

    /// Act 1: nothing is recorded until all three agreed.
    fn alice_proposes(&mut self, ids: &[Arc<SecretIdentity>], call: CallId) -> anyhow::Result<()> {
        let now = self.now;
        let d = self;
        println!("1. Alice proposes a recording.");
        let terms = Terms {
            recording_id: RecordingId::random(),
            call_id: call,
            proposer: ids[0].key(),
            recorder_device: DeviceId::random(),
            scope: Scope::LocalAndCloud,
            retention_days: 30,
            title: "Design review".into(),
            not_before: now,
            not_after: now.plus_millis(3600 * 1000),
        };
        let proposal = Proposal::new(terms, ids[..3].iter().map(|i| i.public().clone()).collect())?;
        // Proposing is agreeing: the proposal travels with Alice's own signed token.
        let token = ConsentToken::sign(&ids[0], &proposal, now);
        d.broadcast(Input::Propose { proposal, token })?;
        d.sign(1)?;
        d.record(4)?;
        println!(
            "  (4 s pass: nothing is recorded while Carol has not answered: {} segments)",
            d.segment
        );
        d.sign(2)?;
        d.record(6)?;
        println!("  recorded {} segments", d.segment);
        Ok(())
    }

    /// Act 2: a newcomer pauses the recording until everyone, old and new, agreed again.
    fn dave_joins(&mut self, ids: &[Arc<SecretIdentity>]) -> anyhow::Result<()> {
        let d = self;
        println!("2. Dave joins the call: everyone present is asked to continue with him.");
        let dave = ids[3].public().clone();
        d.people[3].here = true;
        for i in 0..3 {
            let fx = d.people[i]
                .machine
                .handle(d.now, Input::Joined(dave.clone()));
            d.apply(i, fx)?;
            let b = d.people[i].id.public().clone();
            let fx = d.people[3].machine.handle(d.now, Input::Joined(b));
            d.apply(3, fx)?;
        }
        let session = d.people[0].machine.session().context("no session")?;
        let sync = Input::Sync {
            epochs: session.epochs().to_vec(),
            tokens: session.tokens().cloned().collect(),
        };
        let fx = d.people[3].machine.handle(d.now, sync);
        d.apply(3, fx)?;
        let before = d.segment;
        d.record(4)?;
        println!(
            "  (paused while they decide: {} new segments)",
            d.segment - before
        );
        d.sign(3)?;
        d.record(2)?;
        println!(
            "  (Dave alone does not resume it: {} new segments)",
            d.segment - before
        );
        for i in 0..3 {
            d.sign(i)?;
        }
        d.record(4)?;
        Ok(())
    }

    /// Act 3: a withdrawal ends the recording.
    fn bob_withdraws(&mut self, ids: &[Arc<SecretIdentity>]) -> anyhow::Result<()> {
        let d = self;
        println!("3. Bob withdraws his consent.");
        let first = d.people[1]
            .machine
            .session()
            .context("no session")?
            .epochs()[0]
            .clone();
        let notice = SignedNotice::sign(&ids[1], NoticeKind::Withdraw, &first, d.now);
        d.broadcast(Input::Notice(notice))?;
        let before = d.segment;
        d.record(4)?;
        println!(
            "  (after the withdrawal: {} new segments)\n",
            d.segment - before
        );
        Ok(())
    }
}

/// Verify what was written, print who signed what, leave the keys beside it and say how to
/// check it with other tools.
fn summary(
    dir: &std::path::Path,
    rec_dir: &std::path::Path,
    ids: &[Arc<SecretIdentity>],
) -> anyhow::Result<ExitCode> {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    for (n, id) in NAMES.iter().zip(ids) {
        write_private(
            &keys.join(format!("{}.agekey", n.to_lowercase())),
            id.to_age_identity().expose_secret(),
        )?;
    }
    let report = verify(&DirStore::open(rec_dir)?)?;
    print!("{}", super::recordings::describe(&report));
    let names: BTreeMap<String, &str> = NAMES
        .iter()
        .zip(ids)
        .map(|(n, i)| (hex(&i.key()), *n))
        .collect();
    for (k, e, _) in report.consents() {
        println!("  {} signed epoch {e}", names.get(&hex(&k)).unwrap_or(&"?"));
    }
    println!("\nThe recording is in {}", rec_dir.display());
    println!(
        "Each participant's age identity is in {} (demo only: real keys stay in the OS keyring).",
        keys.display()
    );
    println!(
        "Check it:    assent recordings verify {}",
        rec_dir.display()
    );
    println!(
        "Decrypt one segment with stock tools:  rage -d -i {} {}/segment-000000.age",
        keys.join("bob.agekey").display(),
        rec_dir.display()
    );
    Ok(if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn hex(k: &IdentityKey) -> String {
    k.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &std::path::Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(f, "{secret}")?;
    Ok(())
}
