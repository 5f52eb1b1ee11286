//! The JOSE header of a compact JWS (RFC 7515 §4), parsed and checked.

use serde_json::{Map, Value};

use super::alg::Algorithm;
use super::json;
use super::jwk::{Jwk, MAX_KID_LEN};
use super::jws::JwsError;

/// A JWS header that passed the checks every token must pass, whoever verifies it.
///
/// Refused: a header that is not one JSON object or repeats a member name; `alg` missing,
/// `none`, or not one of [`Algorithm`]; any `crit` (no extension is understood, so RFC 7515
/// §4.1.11 requires refusing every one); `jku` and `x5u` (keys are never fetched from a URL
/// a token names); `b64` (RFC 7797 unencoded payloads), `zip` and `enc` (JWE); `typ`, `cty`
/// or `kid` not strings; a `jwk` that is not a valid public key. `x5c` and `x5t` are
/// ignored: keys are never taken from certificates in a token.
///
/// Before verification a header is untrusted: read [`kid`](Self::kid) to choose a key, and
/// [`jwk`](Self::jwk) only where the protocol puts the key in the token (DPoP proofs).
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    alg: Algorithm,
    typ: Option<String>,
    kid: Option<String>,
    cty: Option<String>,
    jwk: Option<Jwk>,
    members: Map<String, Value>,
}

/// Members that make a token refused outright, with the error.
const REFUSED: [(&str, JwsError); 6] = [
    ("crit", JwsError::Critical),
    ("jku", JwsError::KeyUrl("jku")),
    ("x5u", JwsError::KeyUrl("x5u")),
    ("b64", JwsError::UnsupportedHeader("b64")),
    ("zip", JwsError::UnsupportedHeader("zip")),
    ("enc", JwsError::UnsupportedHeader("enc")),
];

impl Header {
    /// Parses and checks the decoded header bytes.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, JwsError> {
        let (alg, members) = members(bytes)?;
        let alg = Algorithm::from_name(&alg).ok_or(JwsError::UnsupportedAlgorithm)?;
        Self::checked(alg, members)
    }

    /// The checks of [`Header::parse`] for a header whose `alg` is `HS256`, and only that:
    /// `client_secret_jwt` assertions, the one place HMAC is accepted. `alg` is not an
    /// [`Algorithm`], so no key of a [`JwkSet`](super::JwkSet) can ever verify such a token.
    /// A `jwk` member is refused: an HMAC token names no public key.
    pub(crate) fn parse_hs256(bytes: &[u8]) -> Result<Hs256Header, JwsError> {
        let (alg, members) = members(bytes)?;
        if alg != "HS256" {
            return Err(JwsError::UnsupportedAlgorithm);
        }
        check_refused(&members)?;
        let typ = string(&members, "typ")?;
        string(&members, "cty")?;
        check_kid(string(&members, "kid")?.as_deref())?;
        if members.contains_key("jwk") {
            return Err(JwsError::Header("an HMAC token has no jwk"));
        }
        Ok(Hs256Header { typ })
    }

    fn checked(alg: Algorithm, members: Map<String, Value>) -> Result<Self, JwsError> {
        check_refused(&members)?;
        let typ = string(&members, "typ")?;
        let cty = string(&members, "cty")?;
        let kid = string(&members, "kid")?;
        check_kid(kid.as_deref())?;
        let jwk = match members.get("jwk") {
            None => None,
            Some(value) => Some(Jwk::from_value(value).map_err(JwsError::EmbeddedJwk)?),
        };
        Ok(Self {
            alg,
            typ,
            kid,
            cty,
            jwk,
            members,
        })
    }

    /// `alg`: the algorithm the token claims, one the verifying key must have.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// `typ`, if present (RFC 7515 §4.1.9).
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// `kid`, if present: which key the signer says it used.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `cty`, if present (RFC 7515 §4.1.10).
    pub fn content_type(&self) -> Option<&str> {
        self.cty.as_deref()
    }

    /// `jwk`, if present: the public key the token says signed it. Use it only where the
    /// protocol defines the key this way (a DPoP proof, RFC 9449 §4.2), through
    /// [`UnverifiedJws::verify_with_embedded_jwk`](super::UnverifiedJws::verify_with_embedded_jwk);
    /// for anything else it proves nothing.
    pub fn jwk(&self) -> Option<&Jwk> {
        self.jwk.as_ref()
    }

    /// A string member, by name (for extension members such as a profile's own); `None` if
    /// absent or not a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.members.get(name).and_then(Value::as_str)
    }

    /// Whether the header has a member by this name, whatever its value.
    pub fn contains(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }
}

/// The header of an HS256 token that passed the checks of [`Header::parse_hs256`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hs256Header {
    typ: Option<String>,
}

impl Hs256Header {
    /// `typ`, if present.
    pub(crate) fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
}

/// The header's members, one JSON object without duplicates, and its `alg`, neither `none`
/// (in any case) nor missing.
fn members(bytes: &[u8]) -> Result<(String, Map<String, Value>), JwsError> {
    let members = json::parse_object(bytes).map_err(|error| {
        JwsError::Header(if error.to_string().contains("duplicate member") {
            "duplicate member name"
        } else {
            "not a JSON object"
        })
    })?;
    let alg = match members.get("alg") {
        Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
            return Err(JwsError::AlgNone);
        }
        Some(Value::String(alg)) => alg.clone(),
        Some(_) => return Err(JwsError::Header("alg is not a string")),
        None => return Err(JwsError::Header("no alg")),
    };
    Ok((alg, members))
}

fn check_refused(members: &Map<String, Value>) -> Result<(), JwsError> {
    for (name, error) in REFUSED {
        if members.contains_key(name) {
            return Err(error);
        }
    }
    Ok(())
}

fn check_kid(kid: Option<&str>) -> Result<(), JwsError> {
    if kid.is_some_and(|kid| kid.is_empty() || kid.len() > MAX_KID_LEN) {
        return Err(JwsError::Header("kid is empty or too long"));
    }
    Ok(())
}

fn string(members: &Map<String, Value>, name: &'static str) -> Result<Option<String>, JwsError> {
    match members.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(JwsError::Header(match name {
            "typ" => "typ is not a string",
            "cty" => "cty is not a string",
            _ => "kid is not a string",
        })),
    }
}
