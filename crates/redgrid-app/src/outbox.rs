//! Delivering the outbox. Commands write notifications in their own transaction (see `common.rs`);
//! the delivery worker hands each one to every configured sender and marks it delivered only when
//! all of them accepted it. A failure is retried with exponential backoff (30 s doubling up to an
//! hour, for ever): nothing is dropped, and a command never waits for a sender. Before sending, the
//! worker leases the message for a few minutes, so a second worker leaves it alone and a crash
//! mid-send only delays it. Delivery is at least once: receivers dedupe by the message id.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use redgrid_store::{OutboxMessage, Result, Store};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a worker holds a message it is sending.
const LEASE: i64 = 300;

/// Where notifications go.
#[async_trait]
pub trait Sender: Send + Sync {
    fn name(&self) -> String;
    async fn send(&self, message: &OutboxMessage) -> std::result::Result<(), String>;
}

/// The JSON a sender delivers for a message; `district` (its 6-digit code) where one server serves
/// several districts, whose ids overlap.
pub fn message_json(m: &OutboxMessage, district: Option<&str>) -> String {
    let payload: serde_json::Value =
        serde_json::from_str(&m.payload).unwrap_or(serde_json::Value::Null);
    let mut v = serde_json::json!({
        "id": m.id,
        "created_at": m.created_at,
        "request_id": m.request_id.0,
        "seq": m.seq,
        "kind": m.kind,
        "recipient_id": m.recipient_id.map(|p| p.0),
        "unit_id": m.unit_id.map(|u| u.0),
        "payload": payload,
    });
    if let Some(d) = district {
        v["district"] = serde_json::Value::String(d.to_string());
    }
    v.to_string()
}

/// Appends one JSON line per message to a file.
pub struct LogSender {
    pub path: PathBuf,
    /// The district's code, written into each line when the server serves several.
    pub district: Option<String>,
}

#[async_trait]
impl Sender for LogSender {
    fn name(&self) -> String {
        format!("log:{}", self.path.display())
    }

    async fn send(&self, m: &OutboxMessage) -> std::result::Result<(), String> {
        let line = message_json(m, self.district.as_deref());
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            writeln!(f, "{line}").map_err(|e| format!("{}: {e}", path.display()))
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// An `http://` endpoint on the intranet (put a TLS-terminating proxy in front for https): where
/// the webhook and the HTTP SMS sender POST.
#[derive(Debug, Clone)]
pub struct HttpEndpoint {
    host: String,
    port: u16,
    path: String,
}

impl HttpEndpoint {
    /// Parses `http://host[:port][/path]`.
    pub fn parse(url: &str) -> std::result::Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("URL {url:?}: only http:// is supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse::<u16>()
                    .map_err(|_| format!("URL {url:?}: bad port"))?,
            ),
            None => (authority.to_string(), 80),
        };
        if host.is_empty() {
            return Err(format!("URL {url:?}: no host"));
        }
        Ok(HttpEndpoint { host, port, path })
    }

    pub fn url(&self) -> String {
        format!("http://{}:{}{}", self.host, self.port, self.path)
    }

    /// POSTs `body` and returns the answer's status; a timeout, a refused connection or an answer
    /// without a status is an error.
    pub async fn post(
        &self,
        content_type: &str,
        extra_header: &str,
        body: &str,
        timeout: std::time::Duration,
    ) -> std::result::Result<u16, String> {
        match tokio::time::timeout(timeout, self.exchange(content_type, extra_header, body)).await {
            Err(_) => Err(format!("timed out after {timeout:?}")),
            Ok(r) => r,
        }
    }

    async fn exchange(
        &self,
        content_type: &str,
        extra_header: &str,
        body: &str,
    ) -> std::result::Result<u16, String> {
        let mut stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\n{extra_header}Connection: close\r\n\r\n{body}",
            self.path,
            self.host,
            self.port,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        line.split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| "no HTTP status in the answer".to_string())
    }
}

/// POSTs each message as JSON to an `http://` URL. 2xx is success; anything else, a timeout or a
/// refused connection is retried.
pub struct WebhookSender {
    endpoint: HttpEndpoint,
    timeout: std::time::Duration,
    district: Option<String>,
}

impl WebhookSender {
    /// Parses `http://host[:port][/path]`.
    pub fn new(url: &str, timeout: std::time::Duration) -> std::result::Result<Self, String> {
        let endpoint = HttpEndpoint::parse(url).map_err(|e| format!("webhook {e}"))?;
        Ok(WebhookSender {
            endpoint,
            timeout,
            district: None,
        })
    }

    /// Marks every message with the district's code (a `district` field and an
    /// `X-Redgrid-District` header), for a receiver that hears from several districts.
    pub fn for_district(mut self, code: Option<String>) -> Self {
        self.district = code;
        self
    }
}

#[async_trait]
impl Sender for WebhookSender {
    fn name(&self) -> String {
        format!("webhook:{}", self.endpoint.url())
    }

    async fn send(&self, m: &OutboxMessage) -> std::result::Result<(), String> {
        let body = message_json(m, self.district.as_deref());
        let mut id = format!("X-Redgrid-Message-Id: {}\r\n", m.id);
        if let Some(d) = &self.district {
            id.push_str(&format!("X-Redgrid-District: {d}\r\n"));
        }
        match self
            .endpoint
            .post("application/json", &id, &body, self.timeout)
            .await
        {
            Err(e) => Err(e),
            Ok(code) if (200..300).contains(&code) => Ok(()),
            Ok(code) => Err(format!("HTTP {code}")),
        }
    }
}

/// Sends a notification by SMS as well, to a person who chose its kind (through the SMS queue, so a
/// slow SMS platform delays nothing). Messages to a unit, or to people without a phone, are skipped.
pub struct SmsNotices {
    store: Arc<dyn Store>,
    queue: crate::sms::SmsQueue,
}

impl SmsNotices {
    pub fn new(store: Arc<dyn Store>, queue: crate::sms::SmsQueue) -> Self {
        SmsNotices { store, queue }
    }
}

#[async_trait]
impl Sender for SmsNotices {
    fn name(&self) -> String {
        format!("sms:{}", self.queue.sender_name())
    }

    async fn send(&self, m: &OutboxMessage) -> std::result::Result<(), String> {
        let Some(person) = m.recipient_id else {
            return Ok(());
        };
        let chosen = self
            .store
            .sms_choices(person)
            .await
            .map_err(|e| e.to_string())?;
        if !chosen.contains(&m.kind) {
            return Ok(());
        }
        let phone = self
            .store
            .person(person)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|p| p.phone);
        let Some(phone) = phone else {
            return Ok(());
        };
        let payload: serde_json::Value = serde_json::from_str(&m.payload).unwrap_or_default();
        let title = payload["title_zh"].as_str().unwrap_or_default();
        let text = format!("【红网格】{title}（诉求编号 {}）", m.request_id.0);
        if self.queue.send(&phone, &text) {
            Ok(())
        } else {
            Err("the SMS queue is full".into())
        }
    }
}

/// The wait before attempt `attempts + 1`: 30 s, 60 s, 120 s, … at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 8) - 1;
    Duration::seconds((30i64 << exp).min(3600))
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Messages every sender now has.
    pub delivered: usize,
    /// Messages some sender still lacks (retried later, by those senders only).
    pub failed: usize,
    /// Sends that succeeded in this round, over all senders.
    pub sends_ok: usize,
    /// Sends that failed in this round.
    pub sends_failed: usize,
}

impl std::ops::AddAssign for DeliveryReport {
    fn add_assign(&mut self, o: Self) {
        self.delivered += o.delivered;
        self.failed += o.failed;
        self.sends_ok += o.sends_ok;
        self.sends_failed += o.sends_failed;
    }
}

/// Messages sent at once: a slow webhook holds up only its own share of a backlog.
const IN_FLIGHT: usize = 16;

/// Delivers up to `limit` messages due at `now`, `IN_FLIGHT` at a time. Each message goes to the
/// senders that do not have it yet; a message is delivered once every sender has it.
pub async fn deliver_due(
    store: &Arc<dyn Store>,
    senders: &[Arc<dyn Sender>],
    now: DateTime<Utc>,
    limit: i64,
) -> Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    let due = store.due_messages(now, limit).await?;
    for wave in due.chunks(IN_FLIGHT) {
        let sent = futures_util::future::join_all(
            wave.iter().map(|m| deliver_one(store, senders, m, now)),
        )
        .await;
        for r in sent {
            report += r?;
        }
    }
    Ok(report)
}

/// Delivers every message due at `now`, round after round of `limit`, until none is left or
/// `budget` has passed: a backlog is worked off in one go instead of one round per interval.
pub async fn deliver_backlog(
    store: &Arc<dyn Store>,
    senders: &[Arc<dyn Sender>],
    now: DateTime<Utc>,
    limit: i64,
    budget: std::time::Duration,
) -> Result<DeliveryReport> {
    let started = std::time::Instant::now();
    let mut report = DeliveryReport::default();
    loop {
        let round = deliver_due(store, senders, now, limit).await?;
        let taken = round.delivered + round.failed;
        report += round;
        // A round with failures stops here: what failed waits for its back-off.
        if taken < limit as usize || round.failed > 0 || started.elapsed() >= budget {
            return Ok(report);
        }
    }
}

async fn deliver_one(
    store: &Arc<dyn Store>,
    senders: &[Arc<dyn Sender>],
    m: &OutboxMessage,
    now: DateTime<Utc>,
) -> Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    // The lease runs from the moment it is taken (a long backlog round would otherwise take
    // leases that have already run out).
    let leased_at = redgrid_store::now().max(now);
    if !store
        .lease_message(
            m.id,
            m.next_attempt_at,
            leased_at + Duration::seconds(LEASE),
        )
        .await?
    {
        return Ok(report);
    }
    let mut have: Vec<String> = m.delivered_to.lines().map(str::to_string).collect();
    let mut errors = Vec::new();
    for s in senders {
        let name = s.name();
        if have.contains(&name) {
            continue;
        }
        match s.send(m).await {
            Ok(()) => {
                report.sends_ok += 1;
                have.push(name);
            }
            Err(e) => {
                report.sends_failed += 1;
                errors.push(format!("{name}: {e}"));
            }
        }
    }
    if errors.is_empty() {
        store.message_delivered(m.id, now).await?;
        report.delivered = 1;
    } else {
        let attempts = m.attempts + 1;
        store
            .message_failed(
                m.id,
                attempts,
                now + backoff(attempts),
                &errors.join("; "),
                &have.join("\n"),
            )
            .await?;
        report.failed = 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour() {
        let secs: Vec<i64> = (1..=9).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }

    #[test]
    fn webhook_urls_are_checked() {
        let t = std::time::Duration::from_secs(1);
        let w =
            WebhookSender::new("http://10.0.0.5:9000/hook", t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.name(), "webhook:http://10.0.0.5:9000/hook");
        assert!(WebhookSender::new("http://intranet", t).is_ok());
        for bad in ["https://x/hook", "ftp://x", "http://:80/", "http://x:port/"] {
            assert!(WebhookSender::new(bad, t).is_err(), "{bad}");
        }
    }
}
