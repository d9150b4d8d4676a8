//! Portal policy: after a token verifies, decide whether its verdict is good enough to act on
//! (for example, to ship a laptop).

use crate::verdict::VerdictClass;
use crate::wire::Claims;

/// What a portal requires of a verified verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Verdict classes that pass; an empty list passes nothing (a policy fails closed).
    pub allowed: Vec<VerdictClass>,
    /// The oldest verdict accepted, by its `iat` (seconds); `None` accepts any unexpired token.
    pub max_age_s: Option<u64>,
}

impl Default for Policy {
    /// The cautious default: only `local` passes.
    fn default() -> Policy {
        Policy { allowed: vec![VerdictClass::Local], max_age_s: None }
    }
}

/// Why a verified verdict does not pass the policy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("verdict is {class}; the policy requires {}", allowed.join(" or "))]
    ClassNotAllowed { class: String, allowed: Vec<String> },
    #[error("verdict is {age_s} s old; the policy accepts at most {max_age_s} s")]
    TooOld { age_s: u64, max_age_s: u64 },
    #[error("the policy names no verdict class, so nothing passes")]
    NothingAllowed,
}

/// The sentence for a policy that names no class.
pub const EMPTY_POLICY: &str = "name at least one verdict class to accept (local, remote_suspected, remote, inconclusive); an empty policy would accept anything, so it is refused";

impl Policy {
    /// Parses a comma-separated list of classes, such as `local` or `local,inconclusive`; a
    /// list that names no class (empty, blank, only commas) is an error, never "anything".
    pub fn parse_classes(text: &str) -> Result<Vec<VerdictClass>, String> {
        let classes = text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| VerdictClass::parse(name).ok_or_else(|| format!("unknown verdict class {name:?} (local, remote_suspected, remote, inconclusive)")))
            .collect::<Result<Vec<_>, String>>()?;
        if classes.is_empty() {
            return Err(EMPTY_POLICY.into());
        }
        Ok(classes)
    }

    /// Parses a list of class names, as an API request gives them; an empty list, or one of
    /// blank names only, is an error.
    pub fn parse_class_list(names: &[String]) -> Result<Vec<VerdictClass>, String> {
        if names.iter().any(|name| name.contains(',')) {
            return Err("give each verdict class as its own string, without commas".into());
        }
        Policy::parse_classes(&names.join(","))
    }

    /// Checks verified claims against the policy at `now_s`.
    pub fn check(&self, claims: &Claims, now_s: u64) -> Result<(), PolicyError> {
        if let Some(max_age_s) = self.max_age_s {
            let age_s = now_s.saturating_sub(claims.iat);
            if age_s > max_age_s {
                return Err(PolicyError::TooOld { age_s, max_age_s });
            }
        }
        if self.allowed.is_empty() {
            return Err(PolicyError::NothingAllowed);
        }
        if !self.allowed.iter().any(|class| class.as_str() == claims.verdict.class) {
            return Err(PolicyError::ClassNotAllowed {
                class: claims.verdict.class.clone(),
                allowed: self.allowed.iter().map(|c| c.as_str().to_owned()).collect(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::VerdictV1;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn claims(class: &str, iat: u64) -> Claims {
        Claims {
            iss: "edge".into(),
            sub: "s".into(),
            aud: "onsite".into(),
            iat,
            exp: iat + 3600,
            jti: "j".into(),
            verdict: VerdictV1 {
                v: 1,
                class: class.into(),
                p_remote: 0.1,
                keystrokes: 30,
                rtt_samples: 10,
                rtt_min_ms: None,
                rtt_median_ms: None,
                dwell_median_ms: None,
                flight_median_ms: None,
                loop_added_ms: None,
                location: None,
                reasons: vec![],
            },
            evidence_sha256: String::new(),
        }
    }

    fn check(policy: &Policy, class: &str, age_s: u64, expected: Result<(), &str>) {
        let got = policy.check(&claims(class, 1_000), 1_000 + age_s).map_err(|e| e.to_string());
        match expected {
            Ok(()) => assert_eq!(got, Ok(()), "{class} at {age_s} s"),
            Err(part) => assert!(
                got.as_ref().err().is_some_and(|m| m.contains(part)),
                "{class} at {age_s} s: {got:?}"
            ),
        }
    }

    #[test]
    fn the_default_policy_ships_only_local() {
        let policy = Policy::default();
        check(&policy, "local", 10, Ok(()));
        check(
            &policy,
            "inconclusive",
            10,
            Err("verdict is inconclusive; the policy requires local"),
        );
        check(&policy, "remote", 10, Err("requires local"));
    }

    #[test]
    fn classes_and_age_combine() {
        let policy = Policy {
            allowed: Policy::parse_classes("local, inconclusive").unwrap_or_default(),
            max_age_s: Some(600),
        };
        check(&policy, "inconclusive", 600, Ok(()));
        check(&policy, "local", 601, Err("601 s old"));
        check(&policy, "remote_suspected", 5, Err("requires local or inconclusive"));
        assert!(Policy::parse_classes("local,maybe").is_err());
    }

    #[test]
    fn an_empty_policy_passes_nothing_and_does_not_parse() {
        let empty = Policy { allowed: vec![], max_age_s: None };
        for class in ["local", "remote", "remote_suspected", "inconclusive"] {
            check(&empty, class, 0, Err("names no verdict class"));
        }
        for text in ["", " ", ",", " , ,"] {
            assert_eq!(Policy::parse_classes(text), Err(EMPTY_POLICY.into()), "{text:?}");
        }
        let lists: [(&[&str], bool); 5] = [
            (&[], false),
            (&[""], false),
            (&["", " "], false),
            (&["local,remote"], false),
            (&["local", ""], true),
        ];
        for (names, parses) in lists {
            let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
            assert_eq!(Policy::parse_class_list(&names).is_ok(), parses, "{names:?}");
        }
    }
}
