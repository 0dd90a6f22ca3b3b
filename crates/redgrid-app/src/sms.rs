//! Text messages (SMS): sign-up codes, and later the notifications a person chooses to get by SMS.
//!
//! A sender is pluggable: [`LogSms`] writes each message to the server log (development, and
//! districts without an SMS platform yet); [`HttpSms`] POSTs it to the district's SMS platform, which
//! on a government intranet is reached over HTTP, with a body made from a template. Nothing waits
//! on a sender: [`SmsQueue`] hands each message to a background task that retries a failed send
//! with growing pauses, and keeps the recent failures for administrators to see.

use crate::outbox::HttpEndpoint;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Something that delivers a text message to a phone.
#[async_trait]
pub trait SmsSender: Send + Sync {
    fn name(&self) -> String;
    async fn send(&self, phone: &str, text: &str) -> Result<(), String>;
}

/// Writes each message to the server log, and keeps the last hundred for whoever runs the server
/// (and for tests) to read.
#[derive(Default)]
pub struct LogSms {
    sent: Mutex<VecDeque<(String, String)>>,
}

impl LogSms {
    /// The messages logged, oldest first: `(phone, text)`.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The newest message to `phone`.
    pub fn last_to(&self, phone: &str) -> Option<String> {
        self.sent()
            .into_iter()
            .rev()
            .find(|(p, _)| p == phone)
            .map(|(_, t)| t)
    }
}

#[async_trait]
impl SmsSender for LogSms {
    fn name(&self) -> String {
        "log".into()
    }

    async fn send(&self, phone: &str, text: &str) -> Result<(), String> {
        tracing::info!(target: "redgrid::sms", phone, text, "SMS (log sender)");
        let mut sent = self
            .sent
            .lock()
            .map_err(|_| "log sender poisoned".to_string())?;
        if sent.len() == 100 {
            sent.pop_front();
        }
        sent.push_back((phone.to_string(), text.to_string()));
        Ok(())
    }
}

/// POSTs each message to an SMS platform: `body` is a template in which `{phone}` and `{text}` are
/// replaced (escaped for JSON when the content type is JSON, percent-encoded for a form). A 2xx
/// answer is success.
pub struct HttpSms {
    endpoint: HttpEndpoint,
    body: String,
    content_type: String,
    timeout: Duration,
}

impl HttpSms {
    pub fn new(
        url: &str,
        body: &str,
        content_type: &str,
        timeout: Duration,
    ) -> Result<Self, String> {
        let endpoint = HttpEndpoint::parse(url).map_err(|e| format!("SMS {e}"))?;
        if !body.contains("{phone}") || !body.contains("{text}") {
            return Err("the SMS body template must contain {phone} and {text}".into());
        }
        Ok(HttpSms {
            endpoint,
            body: body.to_string(),
            content_type: content_type.to_string(),
            timeout,
        })
    }

    /// The body for one message.
    pub fn body_for(&self, phone: &str, text: &str) -> String {
        let escape = |s: &str| -> String {
            if self.content_type.contains("json") {
                let quoted = serde_json::Value::String(s.to_string()).to_string();
                quoted[1..quoted.len() - 1].to_string()
            } else if self.content_type.contains("x-www-form-urlencoded") {
                percent_encode(s)
            } else {
                s.to_string()
            }
        };
        self.body
            .replace("{phone}", &escape(phone))
            .replace("{text}", &escape(text))
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl SmsSender for HttpSms {
    fn name(&self) -> String {
        format!("http:{}", self.endpoint.url())
    }

    async fn send(&self, phone: &str, text: &str) -> Result<(), String> {
        let body = self.body_for(phone, text);
        match self
            .endpoint
            .post(&self.content_type, "", &body, self.timeout)
            .await?
        {
            code if (200..300).contains(&code) => Ok(()),
            code => Err(format!("HTTP {code}")),
        }
    }
}

/// A message that could not be sent after every try.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SmsFailure {
    pub at: DateTime<Utc>,
    /// The phone, masked (138****1234).
    pub phone: String,
    pub attempts: u32,
    pub error: String,
}

/// How often a message is tried, and the pause before the first retry (doubled each time).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_pause: Duration,
}

impl Default for Retry {
    /// Five tries over about a minute: a sign-up code is good for ten.
    fn default() -> Self {
        Retry {
            attempts: 5,
            first_pause: Duration::from_secs(4),
        }
    }
}

/// Hands messages to a background task that sends them; never blocks the caller.
#[derive(Clone)]
pub struct SmsQueue {
    tx: mpsc::Sender<(String, String)>,
    sender: Arc<dyn SmsSender>,
    failures: Arc<Mutex<VecDeque<SmsFailure>>>,
}

impl SmsQueue {
    /// Starts the delivery task (needs a Tokio runtime).
    pub fn start(sender: Arc<dyn SmsSender>, retry: Retry) -> SmsQueue {
        let (tx, mut rx) = mpsc::channel::<(String, String)>(10_000);
        let failures: Arc<Mutex<VecDeque<SmsFailure>>> = Arc::default();
        let (s, f) = (sender.clone(), failures.clone());
        tokio::spawn(async move {
            while let Some((phone, text)) = rx.recv().await {
                let (s, f) = (s.clone(), f.clone());
                // Each message on its own task, so that one slow platform answer delays no other.
                tokio::spawn(async move { deliver(&*s, &phone, &text, retry, &f).await });
            }
        });
        SmsQueue {
            tx,
            sender,
            failures,
        }
    }

    /// Queues a message. False when the queue is full (10,000 waiting), which is logged.
    pub fn send(&self, phone: &str, text: &str) -> bool {
        let queued = self
            .tx
            .try_send((phone.to_string(), text.to_string()))
            .is_ok();
        if !queued {
            tracing::error!(sender = %self.sender.name(), "the SMS queue is full; a message was dropped");
        }
        queued
    }

    pub fn sender_name(&self) -> String {
        self.sender.name()
    }

    /// The recent messages that could not be sent, newest first.
    pub fn failures(&self) -> Vec<SmsFailure> {
        self.failures
            .lock()
            .map(|f| f.iter().rev().cloned().collect())
            .unwrap_or_default()
    }
}

async fn deliver(
    sender: &dyn SmsSender,
    phone: &str,
    text: &str,
    retry: Retry,
    failures: &Mutex<VecDeque<SmsFailure>>,
) {
    let mut pause = retry.first_pause;
    let mut last = String::new();
    for attempt in 1..=retry.attempts.max(1) {
        match sender.send(phone, text).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(sender = %sender.name(), attempt, error = %e, "SMS not sent");
                last = e;
            }
        }
        if attempt < retry.attempts {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    tracing::error!(sender = %sender.name(), error = %last, "SMS given up");
    if let Ok(mut f) = failures.lock() {
        if f.len() == 200 {
            f.pop_front();
        }
        f.push_back(SmsFailure {
            at: Utc::now(),
            phone: mask_phone(phone),
            attempts: retry.attempts,
            error: last,
        });
    }
}

/// 138****1234.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_escaped_for_their_content_type() {
        let json = HttpSms::new(
            "http://sms.local/send",
            r#"{"mobile":"{phone}","content":"{text}"}"#,
            "application/json",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            json.body_for("13800001111", "验证码 \"1\"\n"),
            r#"{"mobile":"13800001111","content":"验证码 \"1\"\n"}"#
        );
        let form = HttpSms::new(
            "http://sms.local:8080/send",
            "to={phone}&msg={text}",
            "application/x-www-form-urlencoded",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(form.body_for("138", "a b&c"), "to=138&msg=a%20b%26c");
        assert!(
            HttpSms::new("http://x/", "{phone}", "text/plain", Duration::from_secs(1)).is_err()
        );
        assert!(
            HttpSms::new(
                "https://x/",
                "{phone}{text}",
                "text/plain",
                Duration::from_secs(1)
            )
            .is_err()
        );
    }

    #[test]
    fn phones_are_masked_in_failures() {
        assert_eq!(mask_phone("13800001234"), "138****1234");
        assert_eq!(mask_phone("123"), "***");
    }

    struct Flaky(Mutex<u32>);

    #[async_trait]
    impl SmsSender for Flaky {
        fn name(&self) -> String {
            "flaky".into()
        }
        async fn send(&self, _: &str, _: &str) -> Result<(), String> {
            let mut n = self.0.lock().unwrap();
            *n += 1;
            if *n < 3 {
                Err(format!("try {n} failed"))
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn failed_sends_are_retried_and_the_hopeless_ones_shown() {
        let flaky = Flaky(Mutex::new(0));
        let failures = Mutex::new(VecDeque::new());
        let fast = Retry {
            attempts: 5,
            first_pause: Duration::from_millis(1),
        };
        deliver(&flaky, "13800001234", "hi", fast, &failures).await;
        assert_eq!(*flaky.0.lock().unwrap(), 3, "sent on the third try");
        assert!(failures.lock().unwrap().is_empty());
        let never = Flaky(Mutex::new(0));
        let give_up = Retry {
            attempts: 2,
            first_pause: Duration::from_millis(1),
        };
        deliver(&never, "13800001234", "hi", give_up, &failures).await;
        let f = failures.lock().unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].phone, "138****1234");
        assert_eq!(f[0].attempts, 2);
    }
}
