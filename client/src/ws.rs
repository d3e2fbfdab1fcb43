//! The WebSocket wire format (RFC 6455), as much of it as the event
//! stream (`sys/events/subscribe/:event_type`) needs: the handshake key,
//! and frames encoded and decoded from a byte buffer. No I/O here: the
//! server and the agent each read with their own runtime and hand the
//! bytes in. Both sides share one codec, so they agree by construction;
//! tests against the RFC's own examples keep it honest with other peers.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// A fresh `Sec-WebSocket-Key` (16 random bytes, base64).
pub fn client_key(random: [u8; 16]) -> String {
    base64::engine::general_purpose::STANDARD.encode(random)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    fn from_bits(b: u8) -> Option<Self> {
        Some(match b {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: Opcode,
    /// Unmasked.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("websocket frame uses reserved bits or an unknown opcode")]
    Reserved,
    #[error("websocket frame of {0} bytes is over the limit")]
    TooLarge(u64),
    #[error("websocket control frame is fragmented or over 125 bytes")]
    BadControl,
}

/// One frame; `mask` is set by clients (RFC 6455 5.3), never by servers.
pub fn encode(opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode.bits());
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        out.push(m | n as u8);
    } else if let Ok(n16) = u16::try_from(n) {
        out.push(m | 126);
        out.extend_from_slice(&n16.to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A close frame's payload: the status code and a reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(&reason.as_bytes()[..reason.len().min(123)]);
    p
}

/// The first whole frame in `buf` and how many bytes it took, or `None`
/// when more bytes are needed. Frames over `max_payload` are refused
/// before their payload arrives.
pub fn decode(buf: &[u8], max_payload: usize) -> Result<Option<(Frame, usize)>, FrameError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(FrameError::Reserved);
    }
    let fin = b0 & 0x80 != 0;
    let opcode = Opcode::from_bits(b0 & 0x0F).ok_or(FrameError::Reserved)?;
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if opcode.is_control() && (!fin || len > 125) {
        return Err(FrameError::BadControl);
    }
    if len > max_payload as u64 {
        return Err(FrameError::TooLarge(len));
    }
    let key = if masked {
        let Some(k) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    let len = len as usize;
    let Some(body) = buf.get(at..at + len) else {
        return Ok(None);
    };
    let payload = match key {
        Some(k) => body.iter().enumerate().map(|(i, b)| b ^ k[i % 4]).collect(),
        None => body.to_vec(),
    };
    Ok(Some((
        Frame {
            fin,
            opcode,
            payload,
        },
        at + len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_examples() {
        // Section 1.3's handshake.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        // Section 5.7: an unmasked and a masked "Hello".
        let unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(encode(Opcode::Text, b"Hello", None), unmasked);
        let (f, n) = decode(&unmasked, 1024).unwrap().unwrap();
        assert_eq!(
            (f.opcode, f.fin, &f.payload[..], n),
            (Opcode::Text, true, &b"Hello"[..], 7)
        );
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(
            encode(Opcode::Text, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d])),
            masked
        );
        assert_eq!(decode(&masked, 1024).unwrap().unwrap().0.payload, b"Hello");
        // A fragmented first part, and a 256-byte binary frame (16-bit length).
        let (f, _) = decode(&[0x01, 0x03, 0x48, 0x65, 0x6c], 1024)
            .unwrap()
            .unwrap();
        assert!(!f.fin);
        let big = encode(Opcode::Binary, &[7u8; 256], None);
        assert_eq!(&big[..4], &[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(decode(&big, 1024).unwrap().unwrap().0.payload.len(), 256);
        let huge = encode(Opcode::Binary, &vec![1u8; 70_000], Some([1, 2, 3, 4]));
        assert_eq!(huge[1], 0x80 | 127);
        let (f, n) = decode(&huge, 100_000).unwrap().unwrap();
        assert_eq!((f.payload.len(), n), (70_000, huge.len()));
        assert!(f.payload.iter().all(|b| *b == 1));
    }

    #[test]
    fn partial_and_bad_frames() {
        let whole = encode(Opcode::Text, &[b'x'; 300], Some([9, 9, 9, 9]));
        for cut in 0..whole.len() {
            assert_eq!(decode(&whole[..cut], 1024), Ok(None), "cut at {cut}");
        }
        assert_eq!(decode(&whole, 100), Err(FrameError::TooLarge(300)));
        assert_eq!(decode(&[0xC1, 0x00], 10), Err(FrameError::Reserved));
        assert_eq!(decode(&[0x83, 0x00], 10), Err(FrameError::Reserved));
        assert_eq!(decode(&[0x09, 0x00], 10), Err(FrameError::BadControl));
        assert_eq!(
            decode(&[0x89, 126, 0, 200], 1000),
            Err(FrameError::BadControl)
        );
        let close = encode(Opcode::Close, &close_payload(1000, "bye"), None);
        let (f, _) = decode(&close, 10).unwrap().unwrap();
        assert_eq!(f.payload, [0x03, 0xE8, b'b', b'y', b'e']);
    }
}
