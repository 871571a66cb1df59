//! A credentials provider that hands the credentials [`super::check_credentials`] resolved at
//! start-up to the client's first call, so a start-up check does not cost a second round trip
//! to STS, SSO, the container endpoint or IMDS (nor a second AssumeRole against its quota).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};

/// Credentials closer than this to their expiry are not handed on: the inner provider is asked
/// again (the SDK's identity cache refreshes 5 minutes before expiry too).
const MIN_REMAINING: Duration = Duration::from_secs(5 * 60);

/// Wraps a provider: the first credentials it resolves are handed out once more, to the next
/// call (the client's first request after the start-up check), then every call goes through.
#[derive(Debug)]
pub(crate) struct Primed {
    inner: SharedCredentialsProvider,
    state: Mutex<State>,
}

#[derive(Debug)]
enum State {
    /// Nothing resolved yet.
    Fresh,
    /// Resolved once; kept for the next call.
    Kept(Credentials),
    /// Handed on (or never kept): every call goes to the inner provider.
    Through,
}

impl Primed {
    pub(crate) fn shared(inner: SharedCredentialsProvider) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(Self {
            inner,
            state: Mutex::new(State::Fresh),
        })
    }

    async fn resolve(&self) -> provider::Result {
        let state = std::mem::replace(
            &mut *self.state.lock().unwrap_or_else(|p| p.into_inner()),
            State::Through,
        );
        match state {
            State::Kept(credentials)
                if credentials
                    .expiry()
                    .is_none_or(|e| e > SystemTime::now() + MIN_REMAINING) =>
            {
                Ok(credentials)
            }
            State::Fresh => {
                let result = self.inner.provide_credentials().await;
                if let Ok(credentials) = &result {
                    let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                    if matches!(*state, State::Through) {
                        *state = State::Kept(credentials.clone());
                    }
                }
                result
            }
            State::Kept(_) | State::Through => self.inner.provide_credentials().await,
        }
    }
}

impl ProvideCredentials for Primed {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.resolve())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        lifetime: Option<Duration>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = self.lifetime.map(|l| SystemTime::now() + l);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("AKIA{n}"),
                "secret",
                None,
                expiry,
                "counting",
            )))
        }
    }

    #[tokio::test]
    async fn the_checked_credentials_serve_the_first_call_only() {
        let inner = Counting {
            lifetime: Some(Duration::from_secs(3600)),
            ..Counting::default()
        };
        let calls = inner.calls.clone();
        let primed = Primed::shared(SharedCredentialsProvider::new(inner));
        let checked = primed.provide_credentials().await.unwrap();
        let first = primed.provide_credentials().await.unwrap();
        assert_eq!(first.access_key_id(), checked.access_key_id());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let second = primed.provide_credentials().await.unwrap();
        assert_ne!(second.access_key_id(), checked.access_key_id());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn credentials_about_to_expire_are_not_handed_on() {
        let inner = Counting {
            lifetime: Some(Duration::from_secs(60)),
            ..Counting::default()
        };
        let calls = inner.calls.clone();
        let primed = Primed::shared(SharedCredentialsProvider::new(inner));
        primed.provide_credentials().await.unwrap();
        let first = primed.provide_credentials().await.unwrap();
        assert_eq!(first.access_key_id(), "AKIA1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
