//! Mutual-TLS client certificates (RFC 8705), sans-IO: the host's TLS layer terminates the
//! connection and hands tessera the certificate the client presented, as DER.
//!
//! A [`ClientCertificate`] is parsed once (by `x509-parser`; tessera never reads ASN.1 by
//! hand) into what the provider compares: the subject DN in its RFC 4514 form, the subject
//! alternative names, the public key, and the `x5t#S256` thumbprint a certificate-bound token
//! carries in its `cnf` (RFC 8705 §3.1).
//!
//! tessera never checks a chain, a validity period or a revocation list: for
//! `tls_client_auth` (RFC 8705 §2.1) the host's TLS layer must have validated the chain to a
//! CA it trusts before handing the certificate over; `self_signed_tls_client_auth` (§2.2)
//! needs no chain, since the certificate's key must be one the client registered.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};
use x509_parser::public_key::PublicKey as ParsedKey;

use crate::client::ClientMetadata;

/// The longest certificate [`ClientCertificate::from_der`] reads (DER bytes).
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// The X.509 certificate a client presented in the TLS handshake, as the host's TLS layer
/// received it (RFC 8705). Give it to [`crate::FormRequest::with_client_certificate`] for
/// token, revocation, introspection and PAR requests, and to
/// [`crate::BearerRequest::with_client_certificate`] at resources. With the `http` feature, a
/// TLS layer inserts it as a request extension instead: the `http` bridge and the axum glue
/// read it from there.
///
/// Only certificates the host's TLS layer accepted may be handed over: tessera trusts that the
/// client proved possession of the certificate's private key in the handshake, and (for
/// `tls_client_auth`) that the chain was validated.
///
/// Cheap to clone. Its `Debug` shows the thumbprint and subject, never the DER.
///
/// ```
/// use tessera::ClientCertificate;
///
/// assert!(ClientCertificate::from_der(b"not a certificate".to_vec()).is_err());
/// ```
#[derive(Clone)]
pub struct ClientCertificate {
    inner: Arc<Parsed>,
}

#[derive(PartialEq, Eq)]
struct Parsed {
    der: Vec<u8>,
    thumbprint: String,
    subject_dn: String,
    san_dns: Vec<String>,
    san_uri: Vec<String>,
    san_ip: Vec<IpAddr>,
    san_email: Vec<String>,
    key: CertificateKey,
}

/// A certificate's public key, in the form registered JWKs are compared with.
#[derive(Debug, PartialEq, Eq)]
enum CertificateKey {
    /// RSA modulus and exponent, without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// A P-256 point's coordinates.
    P256 { x: Vec<u8>, y: Vec<u8> },
    /// An Ed25519 public key.
    Ed25519(Vec<u8>),
    /// Any other key: it matches no registered JWK.
    Other,
}

/// Why bytes are not a client certificate tessera can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// Longer than [`MAX_CERTIFICATE_LEN`].
    #[error("the client certificate is longer than {MAX_CERTIFICATE_LEN} bytes")]
    TooLong,
    /// Not one DER-encoded X.509 certificate (or bytes after it).
    #[error("the client certificate is not a DER-encoded X.509 certificate")]
    Malformed,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.inner.thumbprint)
            .field("subject", &self.inner.subject_dn)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ClientCertificate {
    fn eq(&self, other: &Self) -> bool {
        self.inner.der == other.inner.der
    }
}

impl Eq for ClientCertificate {}

impl ClientCertificate {
    /// Parses the DER encoding of the certificate the client presented (the first of the
    /// chain, the client's own).
    pub fn from_der(der: impl Into<Vec<u8>>) -> Result<Self, CertificateError> {
        let der = der.into();
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(CertificateError::TooLong);
        }
        let parsed = {
            let (rest, certificate) =
                X509Certificate::from_der(&der).map_err(|_| CertificateError::Malformed)?;
            if !rest.is_empty() {
                return Err(CertificateError::Malformed);
            }
            let mut san_dns = Vec::new();
            let mut san_uri = Vec::new();
            let mut san_ip = Vec::new();
            let mut san_email = Vec::new();
            let names = certificate
                .subject_alternative_name()
                .map_err(|_| CertificateError::Malformed)?;
            for name in names.iter().flat_map(|ext| &ext.value.general_names) {
                match name {
                    GeneralName::DNSName(dns) => san_dns.push((*dns).to_owned()),
                    GeneralName::URI(uri) => san_uri.push((*uri).to_owned()),
                    GeneralName::RFC822Name(email) => san_email.push((*email).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                            san_ip.push(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                            san_ip.push(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
            }
            Parsed {
                thumbprint: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
                subject_dn: rfc4514(certificate.subject()),
                san_dns,
                san_uri,
                san_ip,
                san_email,
                key: key_of(&certificate),
                der: Vec::new(),
            }
        };
        Ok(Self {
            inner: Arc::new(Parsed { der, ..parsed }),
        })
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The `x5t#S256` thumbprint: the base64url SHA-256 of the DER (RFC 8705 §3.1), the
    /// `cnf` member of the tokens bound to this certificate.
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// The subject DN as RFC 4514 writes it (the last RDN first, `CN=client,O=Example,C=SE`):
    /// the form a client's `tls_client_auth_subject_dn` is compared with, exactly.
    pub fn subject_dn(&self) -> &str {
        &self.inner.subject_dn
    }

    /// The `dNSName` subject alternative names.
    pub fn san_dns(&self) -> &[String] {
        &self.inner.san_dns
    }

    /// The `uniformResourceIdentifier` subject alternative names.
    pub fn san_uri(&self) -> &[String] {
        &self.inner.san_uri
    }

    /// The `iPAddress` subject alternative names.
    pub fn san_ip(&self) -> &[IpAddr] {
        &self.inner.san_ip
    }

    /// The `rfc822Name` (e-mail) subject alternative names.
    pub fn san_email(&self) -> &[String] {
        &self.inner.san_email
    }

    /// RFC 8705 §2.1.2: whether the certificate matches the one subject value the client
    /// registered for `tls_client_auth` (none or more than one registered: no match).
    pub(crate) fn matches_registered_subject(&self, metadata: &ClientMetadata) -> bool {
        match registered_subject(metadata) {
            Ok(Subject::Dn(dn)) => self.inner.subject_dn == dn,
            Ok(Subject::Dns(dns)) => self
                .inner
                .san_dns
                .iter()
                .any(|name| name.eq_ignore_ascii_case(dns)),
            Ok(Subject::Uri(uri)) => self.inner.san_uri.iter().any(|name| name == uri),
            Ok(Subject::Ip(ip)) => ip
                .parse::<IpAddr>()
                .is_ok_and(|ip| self.inner.san_ip.contains(&ip)),
            Ok(Subject::Email(email)) => self.inner.san_email.iter().any(|name| name == email),
            Err(_) => false,
        }
    }

    /// RFC 8705 §2.2: whether the certificate's public key is one of the client's registered
    /// `jwks` (certificates are matched by their key; `x5c` members are not read).
    #[cfg(feature = "jose")]
    pub(crate) fn matches_jwks(&self, jwks: &crate::jose::JwkSet) -> bool {
        use crate::jose::jwk::Material;
        jwks.keys()
            .iter()
            .any(|jwk| match (jwk.material(), &self.inner.key) {
                (Material::Rsa { n, e }, CertificateKey::Rsa { n: cn, e: ce }) => {
                    n == cn && e == ce
                }
                (Material::P256 { x, y }, CertificateKey::P256 { x: cx, y: cy }) => {
                    x.as_slice() == cx.as_slice() && y.as_slice() == cy.as_slice()
                }
                (Material::Ed25519 { x }, CertificateKey::Ed25519(cx)) => {
                    x.as_slice() == cx.as_slice()
                }
                _ => false,
            })
    }
}

/// The one subject value of a `tls_client_auth` client (RFC 8705 §2.1.2).
pub(crate) enum Subject<'a> {
    Dn(&'a str),
    Dns(&'a str),
    Uri(&'a str),
    Ip(&'a str),
    Email(&'a str),
}

/// The subject value a `tls_client_auth` client registered: exactly one of the five
/// metadata (RFC 8705 §2.1.2), or why not.
pub(crate) fn registered_subject(metadata: &ClientMetadata) -> Result<Subject<'_>, &'static str> {
    let given = [
        metadata
            .tls_client_auth_subject_dn
            .as_deref()
            .map(Subject::Dn),
        metadata
            .tls_client_auth_san_dns
            .as_deref()
            .map(Subject::Dns),
        metadata
            .tls_client_auth_san_uri
            .as_deref()
            .map(Subject::Uri),
        metadata.tls_client_auth_san_ip.as_deref().map(Subject::Ip),
        metadata
            .tls_client_auth_san_email
            .as_deref()
            .map(Subject::Email),
    ];
    let mut found = given.into_iter().flatten();
    match (found.next(), found.next()) {
        (Some(subject), None) => Ok(subject),
        (None, _) => Err(
            "tls_client_auth needs one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip or tls_client_auth_san_email",
        ),
        (Some(_), Some(_)) => Err(
            "tls_client_auth takes exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip and tls_client_auth_san_email",
        ),
    }
}

fn strip_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default().to_vec()
}

fn key_of(certificate: &X509Certificate<'_>) -> CertificateKey {
    /// id-Ed25519 (RFC 8410 §3).
    const ED25519: &str = "1.3.101.112";
    /// prime256v1 / secp256r1 (RFC 5480 §2.1.1.1).
    const P256: &str = "1.2.840.10045.3.1.7";
    let spki = certificate.public_key();
    if spki.algorithm.algorithm.to_id_string() == ED25519 {
        let data = &spki.subject_public_key.data;
        return if data.len() == 32 {
            CertificateKey::Ed25519(data.to_vec())
        } else {
            CertificateKey::Other
        };
    }
    match spki.parsed() {
        Ok(ParsedKey::RSA(rsa)) => CertificateKey::Rsa {
            n: strip_zeros(rsa.modulus),
            e: strip_zeros(rsa.exponent),
        },
        Ok(ParsedKey::EC(point)) => {
            let on_p256 = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .is_some_and(|oid| oid.to_id_string() == P256);
            match point.data() {
                [4, coordinates @ ..] if on_p256 && coordinates.len() == 64 => {
                    let (x, y) = coordinates.split_at(32);
                    CertificateKey::P256 {
                        x: x.to_vec(),
                        y: y.to_vec(),
                    }
                }
                _ => CertificateKey::Other,
            }
        }
        _ => CertificateKey::Other,
    }
}

/// A DN as RFC 4514 §2 writes it: the RDNs in reverse order joined by `,`, the attributes
/// of a multi-valued RDN by `+`, each as `TYPE=value` (the §3 short names, else the dotted
/// OID), string values escaped as §2.4 says, other values as `#` and their DER in hex.
fn rfc4514(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    let rdns: Vec<_> = name.iter().collect();
    for (i, rdn) in rdns.into_iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attribute) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = attribute.attr_type().to_id_string();
            let short = match oid.as_str() {
                "2.5.4.3" => "CN",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.6" => "C",
                "2.5.4.9" => "STREET",
                "0.9.2342.19200300.100.1.25" => "DC",
                "0.9.2342.19200300.100.1.1" => "UID",
                other => other,
            };
            out.push_str(short);
            out.push('=');
            match attribute.as_str() {
                Ok(value) => escape_value(value, &mut out),
                Err(_) => {
                    out.push('#');
                    for byte in attribute.attr_value().data.iter() {
                        out.push_str(&format!("{byte:02x}"));
                    }
                }
            }
        }
    }
    out
}

/// RFC 4514 §2.4: a string attribute value with its special characters escaped.
fn escape_value(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_oversized_input_is_refused() {
        assert_eq!(
            ClientCertificate::from_der(Vec::new()).err(),
            Some(CertificateError::Malformed)
        );
        assert_eq!(
            ClientCertificate::from_der(vec![0x30; MAX_CERTIFICATE_LEN + 1]).err(),
            Some(CertificateError::TooLong)
        );
        assert_eq!(
            ClientCertificate::from_der(vec![0x30, 0x82, 0xff, 0xff, 0x30]).err(),
            Some(CertificateError::Malformed)
        );
    }

    #[test]
    fn values_are_escaped_as_rfc_4514_says() {
        let mut out = String::new();
        escape_value(" #a,b+c\"d\\e ", &mut out);
        assert_eq!(out, "\\ #a\\,b\\+c\\\"d\\\\e\\ ");
        let mut out = String::new();
        escape_value("#x", &mut out);
        assert_eq!(out, "\\#x");
    }
}
