//! The sign-in form: each step, the password rules as you type, and the answers.

use super::*;
use iced_test::simulator;

/// Click a field (focusing it) and type into it; the events the form reports.
fn type_into(auth: &mut Auth, id: Id, s: &str) -> Vec<Event> {
    let mut ui = simulator(auth.view());
    ui.click(id).expect("the field is on screen");
    let _ = ui.typewrite(s);
    let messages: Vec<Message> = ui.into_messages().collect();
    messages
        .into_iter()
        .filter_map(|m| auth.update(m))
        .collect()
}

fn click(auth: &mut Auth, label: &str) -> Vec<Event> {
    let mut ui = simulator(auth.view());
    ui.click(label).expect("the control is on screen");
    let messages: Vec<Message> = ui.into_messages().collect();
    messages
        .into_iter()
        .filter_map(|m| auth.update(m))
        .collect()
}

fn shows(auth: &Auth, s: &str) -> bool {
    let mut ui = simulator(auth.view());
    ui.find(s).is_ok()
}

#[test]
fn sign_up_checks_the_password_as_you_type() {
    let mut auth = Auth::new("http://127.0.0.1:1".into(), String::new());
    // Another step: only its first empty field takes the keyboard.
    assert_eq!(
        click(&mut auth, "Create an account"),
        vec![Event::Focus(EMAIL)]
    );
    assert_eq!(auth.step(), Step::SignUp);
    type_into(&mut auth, EMAIL, "lovelace@example.org");
    type_into(&mut auth, NAME, "Ada");
    type_into(&mut auth, PASSWORD, "short");
    assert!(shows(&auth, "✗ Use at least 8 characters."));
    // Not acceptable yet: the button does nothing.
    assert!(click(&mut auth, "Create account").is_empty());
    auth.update(Message::Password(String::new()));
    type_into(&mut auth, PASSWORD, "lovelace-42");
    assert!(shows(&auth, "✗ Don't use your name or email address."));
    auth.update(Message::Password(String::new()));
    type_into(&mut auth, PASSWORD, "correct horse battery staple");
    assert!(shows(&auth, "✓ This password meets the rules."));
    let events = click(&mut auth, "Create account");
    assert_eq!(
        events,
        [Event::SignUp {
            server: "http://127.0.0.1:1".into(),
            email: "lovelace@example.org".into(),
            name: "Ada".into(),
            password: Zeroizing::new("correct horse battery staple".into()),
        }]
    );
    // Busy until the app reports back: a second click sends nothing.
    assert!(click(&mut auth, "Create account").is_empty());
    auth.on_error("email_taken".into());
    assert!(shows(&auth, "email_taken"));
}

#[test]
fn sign_in_asks_for_the_authenticator_code_when_the_server_wants_it() {
    let mut auth = Auth::new("http://127.0.0.1:1".into(), "ada@example.org".into());
    // The remembered email is filled in.
    assert!(shows(&auth, "ada@example.org"));
    type_into(&mut auth, PASSWORD, "hunter22");
    let events = click(&mut auth, "Sign in");
    assert!(matches!(
        events.as_slice(),
        [Event::SignIn { totp: None, email, .. }] if email == "ada@example.org"
    ));
    auth.on_totp_required();
    assert_eq!(auth.step(), Step::Totp);
    // Only digits, at most six.
    type_into(&mut auth, CODE, "12a34567");
    assert!(shows(&auth, "123456"));
    let events = click(&mut auth, "Continue");
    assert!(matches!(
        events.as_slice(),
        [Event::SignIn { totp: Some(code), password, .. }]
            if code == "123456" && password.as_str() == "hunter22"
    ));
}

#[test]
fn the_recovery_code_is_shown_once_and_must_be_acknowledged() {
    let mut auth = Auth::new("http://127.0.0.1:1".into(), String::new());
    auth.update(Message::Show(Step::SignUp));
    auth.on_signed_up(Zeroizing::new("ABCD-EFGH-IJKL-MNOP".into()));
    assert_eq!(auth.step(), Step::VerifyEmail);
    assert!(
        !shows(&auth, "ABCD-EFGH-IJKL-MNOP"),
        "not before the email is verified"
    );
    type_into(&mut auth, CODE, "654321");
    assert_eq!(
        click(&mut auth, "Verify"),
        [Event::VerifyEmail {
            code: "654321".into()
        }]
    );
    auth.on_verified();
    assert_eq!(auth.step(), Step::Recovery);
    assert!(shows(&auth, "ABCD-EFGH-IJKL-MNOP"));
    // Continue does nothing until the user says the code is stored.
    assert!(click(&mut auth, "Continue").is_empty());
    click(&mut auth, "I have stored my recovery code");
    assert!(matches!(
        click(&mut auth, "Continue").as_slice(),
        [Event::RecoveryStored { .. }]
    ));
    assert!(!shows(&auth, "ABCD-EFGH-IJKL-MNOP"), "shown only once");
}

#[test]
fn forgot_password_mails_a_code_then_sets_a_new_password_with_the_recovery_code() {
    let mut auth = Auth::new("http://127.0.0.1:1".into(), "ada@example.org".into());
    type_into(&mut auth, PASSWORD, "an old one I forgot");
    click(&mut auth, "Forgot password?");
    assert_eq!(auth.step(), Step::Forgot);
    assert_eq!(
        click(&mut auth, "Send recovery code"),
        [Event::StartRecovery {
            server: "http://127.0.0.1:1".into(),
            email: "ada@example.org".into()
        }]
    );
    auth.on_recovery_sent();
    assert_eq!(auth.step(), Step::Reset);
    assert!(shows(
        &auth,
        "If ada@example.org has an account, a recovery code is on its way to it."
    ));
    assert_eq!(auth.first_empty(), CODE);
    // Nothing goes before the codes and a good new password are there.
    assert!(click(&mut auth, "Set password").is_empty());
    type_into(&mut auth, CODE, "246810");
    type_into(
        &mut auth,
        RECOVERY_CODE,
        "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567",
    );
    type_into(&mut auth, PASSWORD, "ada");
    assert!(
        !auth.broken_rules().is_empty(),
        "the rules are checked live"
    );
    assert!(click(&mut auth, "Set password").is_empty());
    let mut ui = simulator(auth.view());
    ui.click(PASSWORD).unwrap();
    let _ = ui.typewrite(" plus a long tail of words");
    for m in ui.into_messages().collect::<Vec<_>>() {
        auth.update(m);
    }
    let events = click(&mut auth, "Set password");
    assert!(
        matches!(
            events.as_slice(),
            [Event::Recover { email_code, recovery_code, totp: None, password, .. }]
                if email_code == "246810"
                    && recovery_code.starts_with("ABCD-")
                    && password.as_str() == "ada plus a long tail of words"
        ),
        "{events:?}"
    );
    // Two-factor on: the same step asks for the authenticator's code too.
    assert_eq!(auth.on_totp_required(), TOTP);
    assert_eq!(auth.step(), Step::Reset);
    assert!(shows(
        &auth,
        "This account has two-factor sign-in: enter the code from your authenticator app too."
    ));
    type_into(&mut auth, TOTP, "135791");
    assert!(matches!(
        click(&mut auth, "Set password").as_slice(),
        [Event::Recover { totp: Some(t), .. }] if t == "135791"
    ));
}
