//! Wycheproof vectors for the primitives Assent calls directly: Ed25519 (strict verification),
//! X25519, XChaCha20-Poly1305 (key backup) and HKDF-SHA256 (password and recovery keys).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use wycheproof::TestResult;

#[test]
fn ed25519_verify_strict() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut checked = 0;
    for group in &set.test_groups {
        let pk: [u8; 32] = group.key.pk.as_ref().try_into().unwrap();
        for t in &group.tests {
            // Through Assent's own strict verification (what every signature check uses).
            let ok = <[u8; 64]>::try_from(t.sig.as_ref())
                .is_ok_and(|s| assent_shared::sign::verify_raw_strict(&pk, &t.msg, &s).is_ok());
            match t.result {
                TestResult::Valid => assert!(ok, "tc {} must verify: {}", t.tc_id, t.comment),
                TestResult::Invalid => assert!(!ok, "tc {} must fail: {}", t.tc_id, t.comment),
                TestResult::Acceptable => {}
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn x25519() {
    let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).unwrap();
    let mut checked = 0;
    for group in &set.test_groups {
        for t in &group.tests {
            let (Ok(sk), Ok(pk)) = (
                <[u8; 32]>::try_from(t.private_key.as_ref()),
                <[u8; 32]>::try_from(t.public_key.as_ref()),
            ) else {
                assert!(t.result.must_fail(), "tc {}", t.tc_id);
                continue;
            };
            let shared = x25519_dalek::StaticSecret::from(sk)
                .diffie_hellman(&x25519_dalek::PublicKey::from(pk));
            if t.result == TestResult::Valid || !shared.was_contributory() {
                // Low-order inputs give an all-zero secret, which the identity code refuses.
                assert_eq!(
                    shared.as_bytes().as_slice(),
                    t.shared_secret.as_ref(),
                    "tc {}",
                    t.tc_id
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn xchacha20poly1305() {
    let set =
        wycheproof::aead::TestSet::load(wycheproof::aead::TestName::XChaCha20Poly1305).unwrap();
    let mut checked = 0;
    for group in &set.test_groups {
        if group.key_size != 256 || group.nonce_size != 192 || group.tag_size != 128 {
            continue;
        }
        for t in &group.tests {
            let cipher = chacha20poly1305::XChaCha20Poly1305::new_from_slice(&t.key).unwrap();
            let nonce = chacha20poly1305::XNonce::from_slice(&t.nonce);
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let opened = cipher.decrypt(
                nonce,
                Payload {
                    msg: &ct_tag,
                    aad: &t.aad,
                },
            );
            match t.result {
                TestResult::Valid => {
                    assert_eq!(
                        opened.as_deref().ok(),
                        Some(t.pt.as_ref()),
                        "tc {}",
                        t.tc_id
                    );
                    let sealed = cipher
                        .encrypt(
                            nonce,
                            Payload {
                                msg: &t.pt,
                                aad: &t.aad,
                            },
                        )
                        .unwrap();
                    assert_eq!(sealed, ct_tag, "tc {}", t.tc_id);
                }
                TestResult::Invalid => assert!(opened.is_err(), "tc {}", t.tc_id),
                TestResult::Acceptable => {}
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn hkdf_sha256() {
    let set = wycheproof::hkdf::TestSet::load(wycheproof::hkdf::TestName::HkdfSha256).unwrap();
    let mut checked = 0;
    for group in &set.test_groups {
        for t in &group.tests {
            let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(&t.salt), &t.ikm);
            let mut okm = vec![0u8; t.size];
            let r = hk.expand(&t.info, &mut okm);
            if t.result.must_fail() {
                assert!(r.is_err(), "tc {}", t.tc_id);
            } else {
                r.unwrap();
                assert_eq!(okm.as_slice(), t.okm.as_ref(), "tc {}", t.tc_id);
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked}");
}
