//! Fixed-window rate limits. With Redis configured the counters live there and are shared by
//! every node; when Redis fails the limiter falls back to in-process counters for a few
//! seconds and then tries Redis again. Redis trouble never fails a request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use tracing::warn;

/// How long to stay on the in-process limiter after a Redis error.
const REDIS_BACKOFF: Duration = Duration::from_secs(5);
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
const LOCAL_KEYS_MAX: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Limited { retry_after_secs: u64 },
}

pub struct RateLimiter {
    local: LocalWindows,
    redis: Option<ConnectionManager>,
    redis_down_until_ms: AtomicI64,
    started: Instant,
}

impl RateLimiter {
    pub fn in_process() -> Self {
        Self {
            local: LocalWindows::default(),
            redis: None,
            redis_down_until_ms: AtomicI64::new(0),
            started: Instant::now(),
        }
    }

    /// Connects to Redis. A failure to connect is an error here: a configured Redis that is
    /// down at start-up is worth a loud message; later failures only degrade.
    pub async fn with_redis(url: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self { redis: Some(manager), ..Self::in_process() })
    }

    pub fn uses_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Whether Redis answered its last call (true when Redis is not configured).
    pub fn redis_healthy(&self) -> bool {
        self.redis.is_none() || self.redis_down_until_ms.load(Ordering::Relaxed) <= self.elapsed_ms()
    }

    pub async fn ping_redis(&self) -> Option<bool> {
        let mut conn = self.redis.clone()?;
        let r: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
        Some(r.is_ok())
    }

    fn elapsed_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Counts one request against `key` and says whether it is within `limit` per `window`.
    pub async fn hit(&self, key: &str, limit: u32, window: Duration) -> Decision {
        self.count(key, limit, window, 1).await
    }

    /// Says whether `key` is already at its limit, without counting anything.
    pub async fn peek(&self, key: &str, limit: u32, window: Duration) -> Decision {
        self.count(key, limit, window, 0).await
    }

    async fn count(&self, key: &str, limit: u32, window: Duration, add: u32) -> Decision {
        if let Some(conn) = &self.redis
            && self.redis_down_until_ms.load(Ordering::Relaxed) <= self.elapsed_ms()
        {
            match redis_count(conn.clone(), key, window, add).await {
                Ok((count, ttl_ms)) => return decide(count, limit, add, ttl_ms),
                Err(e) => {
                    warn!(error = %e, "redis rate limit failed; using the in-process limiter");
                    let until = self.elapsed_ms() + i64::try_from(REDIS_BACKOFF.as_millis()).unwrap_or(0);
                    self.redis_down_until_ms.store(until, Ordering::Relaxed);
                }
            }
        }
        let (count, ttl_ms) = self.local.count(key, window, add);
        decide(count, limit, add, ttl_ms)
    }
}

fn decide(count: u64, limit: u32, add: u32, ttl_ms: u64) -> Decision {
    let over = if add == 0 { count >= u64::from(limit) } else { count > u64::from(limit) };
    if over { Decision::Limited { retry_after_secs: ttl_ms.div_ceil(1000).max(1) } } else { Decision::Allowed }
}

/// INCRBY and set the window's expiry on first use, atomically; returns (count, ttl ms).
async fn redis_count(
    mut conn: ConnectionManager,
    key: &str,
    window: Duration,
    add: u32,
) -> redis::RedisResult<(u64, u64)> {
    let script = redis::Script::new(
        r"local n = redis.call('INCRBY', KEYS[1], ARGV[1])
          local ttl = redis.call('PTTL', KEYS[1])
          if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
          return {n, ttl}",
    );
    let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    let mut invocation = script.key(format!("meridian:rl:{key}"));
    invocation.arg(add).arg(window_ms);
    let fut = invocation.invoke_async(&mut conn);
    match tokio::time::timeout(REDIS_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))),
    }
}

#[derive(Default)]
struct LocalWindows {
    windows: Mutex<HashMap<String, (Instant, u64)>>,
}

impl LocalWindows {
    fn count(&self, key: &str, window: Duration, add: u32) -> (u64, u64) {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= LOCAL_KEYS_MAX {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += u64::from(add);
        let left = window.saturating_sub(now.duration_since(entry.0));
        (entry.1, u64::try_from(left.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limit_plus_one_request_is_refused_with_a_retry_after() {
        let rl = RateLimiter::in_process();
        for _ in 0..3 {
            assert_eq!(rl.hit("k", 3, Duration::from_secs(60)).await, Decision::Allowed);
        }
        assert!(matches!(
            rl.hit("k", 3, Duration::from_secs(60)).await,
            Decision::Limited { retry_after_secs } if retry_after_secs <= 60
        ));
        assert_eq!(rl.hit("other", 3, Duration::from_secs(60)).await, Decision::Allowed);
    }

    #[tokio::test]
    async fn peek_counts_nothing() {
        let rl = RateLimiter::in_process();
        for _ in 0..5 {
            assert_eq!(rl.peek("k", 1, Duration::from_secs(60)).await, Decision::Allowed);
        }
        rl.hit("k", 1, Duration::from_secs(60)).await;
        assert!(matches!(rl.peek("k", 1, Duration::from_secs(60)).await, Decision::Limited { .. }));
    }
}
