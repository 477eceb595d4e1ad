//! Waiting for something to become true, with a bound so a broken setup fails instead of hanging.

use std::time::{Duration, Instant};

/// What a probe of [`wait_until`] returns: `true`/`Some(value)` when ready.
pub trait Ready {
    /// What the wait returns once ready.
    type Value;
    /// The value, when ready.
    fn ready(self) -> Option<Self::Value>;
}

impl Ready for bool {
    type Value = ();
    fn ready(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Ready for Option<T> {
    type Value = T;
    fn ready(self) -> Option<T> {
        self
    }
}

/// Calls `probe` every 50 ms until it is ready and returns its value;
/// panics with "timed out after …s waiting for {what}" when `timeout` passes.
pub fn wait_until<R: Ready>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> R,
) -> R::Value {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().ready() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {}s waiting for {what}",
            timeout.as_secs_f32()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
