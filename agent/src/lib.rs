//! arca-agent: logs in as the pod, renders secrets to files, keeps them
//! fresh. Runs Vault Agent configurations unchanged (see `config`).
//!
//! The loop: log in (with backoff), write the token sinks, render every
//! template (fetching what a render found missing, then rendering again),
//! write the files that changed; with `exit_after_auth`, stop there (the
//! init container). Otherwise keep going: renew the token before it
//! expires (log in again when it cannot be), renew each leased secret at
//! two thirds of its lease and fetch a new one when it cannot be renewed
//! further, re-read static secrets every `static_secret_render_interval`,
//! and rewrite a file only when its bytes change. A failed refresh leaves
//! the last good file in place.

pub mod auth;
pub mod config;
pub mod events;
pub mod exec;
pub mod files;
mod golayout;
pub mod handoff;
pub mod proxy;
pub mod status;
pub mod template;
mod yaml;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arca_client::Client;
use serde_json::{Map, Value as Json};
use tokio::time::Instant;

use crate::auth::Login;
use crate::config::Config;
use crate::template::{Cache, Dep, RenderError};

/// A leased secret the agent holds.
#[derive(Debug, Clone)]
struct Held {
    lease_id: String,
    renewable: bool,
    /// When to renew (or replace) it.
    due: Instant,
    /// When it runs out.
    expires: Instant,
}

pub struct Agent {
    cfg: Config,
    client: Client,
    login: Option<Login>,
    token_due: Option<Instant>,
    cache: Arc<Cache>,
    leases: HashMap<Dep, Held>,
    /// KV v2 mounts seen, by path prefix (`secret/`).
    kv2: HashMap<String, bool>,
    /// What each template last wrote.
    last: Vec<Option<String>>,
    next_static: Instant,
    /// The `env_template` values last rendered, in configuration order.
    env: Vec<(String, String)>,
    /// exec mode: the application, when it runs, and when it restarts
    /// next: `min_interval` after the first change of a burst, so that a
    /// burst of changes makes one restart, with the last values.
    app: Option<exec::App>,
    restart_at: Option<Instant>,
    /// The server refused the token (revoked, or a server that lost it):
    /// log in again.
    denied: bool,
    /// Templates whose command/signal waits for its `min_interval`.
    actions_due: HashMap<usize, Instant>,
    status: Arc<status::Status>,
    /// The answers behind the cache, as the server gave them (the hand-off
    /// carries them to the sidecar).
    raw: HashMap<Dep, arca_client::Secret>,
    /// The token the local API proxy adds.
    proxy_token: Arc<std::sync::RwLock<String>>,
    address: String,
    /// What the event stream says changed (events.rs).
    notices: Option<tokio::sync::mpsc::Receiver<events::Notice>>,
    /// A template failed its last render (a secret missing or deleted):
    /// any change may be the one it waits for.
    render_failed: bool,
}

/// What woke the sidecar loop.
enum Event {
    Stop,
    AppExited(i32),
    Due,
    Notice(events::Notice),
}

/// How a run ends.
#[derive(Debug, PartialEq)]
pub enum Exit {
    /// `exit_after_auth`: everything rendered once.
    Rendered,
    /// A stop signal in sidecar mode.
    Stopped,
    /// In exec mode, the application exited with this code.
    App(i32),
}

impl Agent {
    pub fn new(cfg: Config) -> Result<Self, String> {
        let address = cfg
            .vault
            .address
            .clone()
            .or_else(|| std::env::var("VAULT_ADDR").ok())
            .unwrap_or_else(|| "https://127.0.0.1:8200".into());
        let mut b = Client::builder(address.clone()).tls_skip_verify(cfg.vault.tls_skip_verify);
        if let Some(ca) = &cfg.vault.ca_cert {
            b = b.ca_cert(ca);
        }
        let client = b.build().map_err(|e| e.to_string())?;
        let n = cfg.templates.len();
        Ok(Self {
            cfg,
            client,
            login: None,
            token_due: None,
            cache: Arc::new(Cache::new()),
            leases: HashMap::new(),
            kv2: HashMap::new(),
            last: vec![None; n],
            next_static: Instant::now(),
            env: Vec::new(),
            app: None,
            restart_at: None,
            denied: false,
            actions_due: HashMap::new(),
            status: Arc::default(),
            raw: HashMap::new(),
            proxy_token: Arc::default(),
            address,
            notices: None,
            render_failed: false,
        })
    }

    /// Runs until everything is rendered (`exit_after_auth`) or `stop`
    /// resolves. `deadline` bounds the first login and render (an init
    /// container's).
    pub async fn run(
        mut self,
        deadline: Option<Duration>,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Exit, String> {
        for l in &self.cfg.listeners {
            let tls = match (&l.tls_cert_file, &l.tls_key_file) {
                (Some(cert), Some(key)) if !l.tls_disable => Some(
                    status::tls_config(cert, key)
                        .map_err(|e| format!("listener {}: {e}", l.address))?,
                ),
                _ => None,
            };
            let proxy = self.cfg.proxy.then(|| {
                let mut b = reqwest::Client::builder()
                    .danger_accept_invalid_certs(self.cfg.vault.tls_skip_verify);
                if let Some(pem) = self
                    .cfg
                    .vault
                    .ca_cert
                    .as_ref()
                    .and_then(|p| std::fs::read(p).ok())
                {
                    if let Ok(ca) = reqwest::Certificate::from_pem(&pem) {
                        b = b.add_root_certificate(ca);
                    }
                }
                Arc::new(proxy::Proxy {
                    upstream: self.address.clone(),
                    client: b.build().unwrap_or_default(),
                    token: Arc::clone(&self.proxy_token),
                    use_token: self.cfg.proxy_token.is_some(),
                    force_token: self.cfg.proxy_token == Some(true),
                    cache: self
                        .cfg
                        .cache
                        .then(|| std::sync::Mutex::new(HashMap::new())),
                })
            });
            let bind = if l.kind == "unix" {
                status::Bind::Unix(std::path::Path::new(&l.address), l.socket_mode)
            } else {
                status::Bind::Tcp(&l.address)
            };
            status::serve(bind, Arc::clone(&self.status), proxy, tls).await?;
        }
        let first = async {
            if !self.take_handoff().await {
                self.log_in().await?;
            }
            self.render_all(true).await?;
            self.render_env(true).await.map(|_| ())
        };
        match deadline {
            Some(d) => tokio::time::timeout(d, first).await.map_err(|_| {
                format!(
                    "not everything was rendered within {}",
                    arca_client::duration::format_go(d)
                )
            })??,
            None => first.await?,
        }
        self.status
            .ready
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(p) = &self.cfg.ready_file {
            files::write_atomic(p, b"", 0o644, true)
                .map_err(|e| format!("writing the ready file {}: {e}", p.display()))?;
        }
        if let Some(e) = &self.cfg.exec {
            self.app = Some(exec::App::start(&e.command, &self.env)?);
        } else if self.cfg.exit_after_auth {
            self.leave_handoff()?;
            return Ok(Exit::Rendered);
        }
        if self.cfg.template_config.event_stream
            && !(self.cfg.templates.is_empty() && self.cfg.env_templates.is_empty())
        {
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            self.notices = Some(rx);
            tokio::spawn(events::watch(
                self.client.clone(),
                Arc::clone(&self.proxy_token),
                tx,
                Arc::clone(&self.status),
            ));
        }
        tokio::pin!(stop);
        loop {
            let wake = self.next_wake();
            let event = {
                let app = async {
                    match self.app.as_mut() {
                        Some(a) => a.exited().await,
                        None => std::future::pending().await,
                    }
                };
                let notice = async {
                    match self.notices.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = &mut stop => Event::Stop,
                    code = app => Event::AppExited(code),
                    () = tokio::time::sleep_until(wake) => Event::Due,
                    Some(n) = notice => Event::Notice(n),
                }
            };
            match event {
                Event::Stop => {
                    if let (Some(app), Some(e)) = (self.app.take(), &self.cfg.exec) {
                        let sig = exec::signal(&e.restart_stop_signal)
                            .unwrap_or(rustix::process::Signal::TERM);
                        app.stop(sig, e.restart_grace).await;
                    }
                    if self.cfg.revoke_on_shutdown {
                        self.revoke_all().await;
                    }
                    return Ok(Exit::Stopped);
                }
                Event::AppExited(code) => {
                    tracing::info!("the application exited with {code}");
                    return Ok(Exit::App(code));
                }
                Event::Due => {}
                Event::Notice(n) => {
                    if let Err(e) = self.on_notices(n).await {
                        tracing::warn!(
                            "re-render after an event failed (the last good files stay): {e}"
                        );
                    }
                }
            }
            if let Err(e) = self.tick().await {
                tracing::warn!("refresh failed (the last good files stay): {e}");
                if self.cfg.template_config.exit_on_retry_failure {
                    return Err(e);
                }
            }
            self.restart_if_due().await?;
            self.run_due_actions().await;
        }
    }

    fn set_proxy_token(&self, token: &str) {
        if let Ok(mut t) = self.proxy_token.write() {
            token.clone_into(&mut t);
        }
    }

    /// The init container's part: its token and secrets for the sidecar.
    fn leave_handoff(&self) -> Result<(), String> {
        let (Some(path), Some(login)) = (&self.cfg.handoff_file, &self.login) else {
            return Ok(());
        };
        let now = handoff::now_unix();
        let secrets = self
            .raw
            .iter()
            .map(|(dep, secret)| handoff::Entry {
                path: dep.path.clone(),
                params: dep.params.clone(),
                secret: secret.clone(),
                expires: self.leases.get(dep).map(|h| {
                    now + i64::try_from(
                        h.expires
                            .saturating_duration_since(Instant::now())
                            .as_secs(),
                    )
                    .unwrap_or(0)
                }),
            })
            .collect();
        handoff::write(
            path,
            &handoff::Handoff {
                token: login.token.expose().to_owned(),
                renewable: login.renewable,
                secrets,
            },
        )
    }

    /// The sidecar's part: takes the init container's token and secrets
    /// when the server still takes the token. True when taken.
    async fn take_handoff(&mut self) -> bool {
        let Some(path) = self.cfg.handoff_file.clone() else {
            return false;
        };
        let Some(h) = handoff::read(&path) else {
            return false;
        };
        let Ok(me) = self.client.with_token(h.token.clone()).lookup_self().await else {
            tracing::info!("the hand-off's token is no longer valid: logging in");
            return false;
        };
        let ttl = me
            .data
            .as_ref()
            .and_then(|d| d.get("ttl"))
            .and_then(Json::as_u64)
            .unwrap_or(0);
        self.client.set_token(h.token.clone());
        self.set_proxy_token(&h.token);
        for sink in self.cfg.auto_auth.iter().flat_map(|a| &a.sinks) {
            if let Err(e) = files::write_atomic(&sink.path, h.token.as_bytes(), sink.mode, true) {
                tracing::warn!("writing the token sink {}: {e}", sink.path.display());
            }
        }
        self.token_due =
            (ttl > 0).then(|| Instant::now() + Duration::from_secs(ttl).mul_f64(2.0 / 3.0));
        self.login = Some(Login {
            token: h.token.as_str().into(),
            lease_duration: ttl,
            renewable: h.renewable,
        });
        let now = handoff::now_unix();
        let mut taken = 0;
        for e in h.secrets {
            let dep = e.dep();
            if let Some(expires) = e.expires {
                let left = u64::try_from(expires - now).unwrap_or(0);
                if left == 0 {
                    continue;
                }
                let left = Duration::from_secs(left);
                let at = Instant::now();
                self.leases.insert(
                    dep.clone(),
                    Held {
                        lease_id: e.secret.lease_id.clone(),
                        renewable: e.secret.renewable,
                        due: at + left.mul_f64(self.cfg.template_config.lease_renewal_threshold),
                        expires: at + left,
                    },
                );
            }
            Arc::make_mut(&mut self.cache).insert(dep.clone(), template::secret_value(&e.secret));
            self.raw.insert(dep, e.secret);
            taken += 1;
        }
        tracing::info!("took over the init container's token and {taken} secrets");
        true
    }

    /// `revoke_on_shutdown`: the leases the agent holds, then its own token
    /// (whose child leases go with it). Failures are logged: the server
    /// expires what is left.
    async fn revoke_all(&mut self) {
        for (dep, held) in std::mem::take(&mut self.leases) {
            if held.lease_id.is_empty() {
                continue;
            }
            if let Err(e) = self.client.revoke_lease(&held.lease_id).await {
                tracing::warn!("revoking the lease of {dep}: {e}");
            }
        }
        if self.cfg.auto_auth.is_some() {
            match self.client.revoke_self().await {
                Ok(()) => tracing::info!("revoked the agent's token and leases"),
                Err(e) => tracing::warn!("revoking the agent's token: {e}"),
            }
        }
    }

    /// exec mode: restarts the application once its environment changed
    /// and the debounce is over.
    async fn restart_if_due(&mut self) -> Result<(), String> {
        let Some(e) = self.cfg.exec.clone() else {
            return Ok(());
        };
        if self.restart_at.is_none_or(|t| t > Instant::now()) {
            return Ok(());
        }
        self.restart_at = None;
        status::Status::add(&self.status.restarts);
        if let Some(app) = self.app.take() {
            tracing::info!("the secrets in its environment changed: restarting the application");
            let sig = exec::signal(&e.restart_stop_signal).unwrap_or(rustix::process::Signal::TERM);
            app.stop(sig, e.restart_grace).await;
        }
        self.app = Some(exec::App::start(&e.command, &self.env)?);
        Ok(())
    }

    /// Renders the `env_template`s; true when a value changed (then, in
    /// exec mode, a restart is pending).
    async fn render_env(&mut self, first: bool) -> Result<bool, String> {
        let templates = self.cfg.env_templates.clone();
        let mut env = Vec::with_capacity(templates.len());
        for t in &templates {
            match self
                .render_text(&t.contents, ("{{", "}}"), t.error_on_missing_key)
                .await
            {
                Ok(v) => env.push((t.name.clone(), v)),
                Err(e) if first => return Err(format!("env_template {}: {e}", t.name)),
                Err(e) => {
                    tracing::warn!("env_template {}: {e}; the last value stays", t.name);
                    return Ok(false);
                }
            }
        }
        let changed = env != self.env;
        self.env = env;
        if let Some(e) = self
            .cfg
            .exec
            .as_ref()
            .filter(|e| e.restart_on_secret_changes)
        {
            if changed && !first && self.restart_at.is_none() {
                self.restart_at = Some(Instant::now() + e.min_interval);
            }
        }
        Ok(changed)
    }

    fn next_wake(&self) -> Instant {
        let mut wake = self.next_static;
        if let Some(t) = self.restart_at {
            wake = wake.min(t);
        }
        for t in self.actions_due.values() {
            wake = wake.min(*t);
        }
        if let Some(t) = self.token_due {
            wake = wake.min(t);
        }
        for h in self.leases.values() {
            wake = wake.min(h.due);
        }
        wake
    }

    /// Whatever is due: the token, leases, static secrets; then the files.
    async fn tick(&mut self) -> Result<(), String> {
        let now = Instant::now();
        if self.token_due.is_some_and(|t| t <= now) {
            self.renew_token().await?;
        }
        let due: Vec<Dep> = self
            .leases
            .iter()
            .filter(|(_, h)| h.due <= now)
            .map(|(d, _)| d.clone())
            .collect();
        let mut changed = false;
        for dep in due {
            changed |= self.renew_or_replace(&dep).await?;
        }
        if self.next_static <= now {
            // Static secrets are read again; leased ones stay as they are.
            let cache = Arc::make_mut(&mut self.cache);
            cache.retain(|d, _| self.leases.contains_key(d));
            self.raw.retain(|d, _| self.leases.contains_key(d));
            changed = true;
            self.next_static = now + self.cfg.template_config.static_secret_render_interval;
        }
        if changed {
            self.render_all(false).await?;
            self.render_env(false).await?;
        }
        if std::mem::take(&mut self.denied) && self.cfg.auto_auth.is_some() {
            tracing::warn!("the server refused the agent's token: logging in again");
            self.log_in().await?;
            self.render_all(false).await?;
            self.render_env(false).await?;
        }
        Ok(())
    }

    /// Events: drop what changed from the cache (with what else is
    /// already queued, so a burst is one render), then render.
    async fn on_notices(&mut self, first: events::Notice) -> Result<(), String> {
        let mut batch = vec![first];
        if let Some(rx) = self.notices.as_mut() {
            while let Ok(n) = rx.try_recv() {
                batch.push(n);
            }
        }
        let mut stale: Vec<Dep> = Vec::new();
        for n in batch {
            match n {
                // Reads only: a write (`pki/issue/…` with parameters)
                // would mint something new.
                events::Notice::Resync => stale.extend(
                    self.cache
                        .keys()
                        .filter(|d| !self.leases.contains_key(d) && d.params.is_empty())
                        .cloned(),
                ),
                events::Notice::Path(p) => {
                    let deps: Vec<Dep> = self
                        .cache
                        .keys()
                        .filter(|d| !self.leases.contains_key(d))
                        .cloned()
                        .collect();
                    for d in deps {
                        if self.kv_path(&d.path).await == p {
                            stale.push(d);
                        }
                    }
                }
                events::Notice::Lease(id) => {
                    // Revoked under the agent's feet: fetch a new one now.
                    let gone: Vec<Dep> = self
                        .leases
                        .iter()
                        .filter(|(_, h)| h.lease_id == id)
                        .map(|(d, _)| d.clone())
                        .collect();
                    for d in gone {
                        tracing::info!("{d}: its lease was revoked; fetching a new one");
                        self.leases.remove(&d);
                        stale.push(d);
                    }
                }
            }
        }
        if stale.is_empty() && !self.render_failed {
            return Ok(());
        }
        let cache = Arc::make_mut(&mut self.cache);
        for d in &stale {
            cache.remove(d);
            self.raw.remove(d);
        }
        self.render_all(false).await?;
        self.render_env(false).await?;
        Ok(())
    }

    /// Logs in, with backoff, until it works (or `exit_on_err`).
    async fn log_in(&mut self) -> Result<(), String> {
        let Some(auto) = self.cfg.auto_auth.clone() else {
            // No auto-auth: a token from the environment, as Vault Agent.
            let token = std::env::var("VAULT_TOKEN")
                .map_err(|_| "no auto_auth and no VAULT_TOKEN".to_owned())?;
            self.set_proxy_token(&token);
            self.client.set_token(token);
            return Ok(());
        };
        let mut wait = Duration::ZERO;
        loop {
            match auth::login(&self.client, &auto.method).await {
                Ok(login) => {
                    status::Status::add(&self.status.logins);
                    tracing::info!(
                        "logged in with {} at {} (token TTL {}s)",
                        auto.method.kind,
                        auto.method.mount_path,
                        login.lease_duration
                    );
                    self.client.set_token(login.token.expose());
                    self.set_proxy_token(login.token.expose());
                    for sink in &auto.sinks {
                        files::write_atomic(
                            &sink.path,
                            login.token.expose().as_bytes(),
                            sink.mode,
                            true,
                        )
                        .map_err(|e| {
                            format!("writing the token sink {}: {e}", sink.path.display())
                        })?;
                    }
                    self.token_due = (login.lease_duration > 0).then(|| {
                        Instant::now()
                            + Duration::from_secs(login.lease_duration).mul_f64(2.0 / 3.0)
                    });
                    self.login = Some(login);
                    return Ok(());
                }
                Err(e) if auto.method.exit_on_err => return Err(format!("login failed: {e}")),
                Err(e) => {
                    wait = auth::backoff(wait, auto.method.min_backoff, auto.method.max_backoff);
                    tracing::warn!(
                        "login with {} failed, again in {:?}: {e}",
                        auto.method.kind,
                        wait
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Renews the token; when it cannot be (max TTL, revoked, a restarted
    /// server that lost it), logs in again.
    async fn renew_token(&mut self) -> Result<(), String> {
        let renewable = self.login.as_ref().is_some_and(|l| l.renewable);
        if renewable {
            if let Ok(s) = self.client.renew_self(0).await {
                if let Some(auth) = s.auth {
                    let left = u64::try_from(auth.lease_duration).unwrap_or(0);
                    let had = self.login.as_ref().map_or(0, |l| l.lease_duration);
                    // A renewal that no longer extends (max TTL reached)
                    // is not counted on: a new login replaces it.
                    if left > 0 && left * 3 >= had * 2 {
                        status::Status::add(&self.status.renewals);
                        self.token_due =
                            Some(Instant::now() + Duration::from_secs(left).mul_f64(2.0 / 3.0));
                        return Ok(());
                    }
                }
            }
        }
        status::Status::add(&self.status.renewal_failures);
        self.log_in().await
    }

    /// A lease at two thirds: renewed, or, when it cannot be renewed to
    /// most of its length again (max TTL), replaced by a new secret.
    /// True when the cache changed.
    async fn renew_or_replace(&mut self, dep: &Dep) -> Result<bool, String> {
        let Some(held) = self.leases.get(dep).cloned() else {
            return Ok(false);
        };
        if held.renewable {
            if let Ok(s) = self.client.renew_lease(&held.lease_id, None).await {
                let left = Duration::from_secs(u64::try_from(s.lease_duration).unwrap_or(0));
                let had = held
                    .expires
                    .saturating_duration_since(held.due)
                    .mul_f64(3.0);
                if left > Duration::ZERO && left >= had.mul_f64(2.0 / 3.0) {
                    status::Status::add(&self.status.renewals);
                    let now = Instant::now();
                    self.leases.insert(
                        dep.clone(),
                        Held {
                            due: now
                                + left.mul_f64(self.cfg.template_config.lease_renewal_threshold),
                            expires: now + left,
                            ..held
                        },
                    );
                    return Ok(false);
                }
            }
        }
        status::Status::add(&self.status.replacements);
        // Fetched again at the next render; the old secret is revoked once
        // the files no longer use it.
        Arc::make_mut(&mut self.cache).remove(dep);
        self.raw.remove(dep);
        self.leases.remove(dep);
        let old = held.lease_id;
        if old.is_empty() {
            return Ok(true);
        }
        let client = self.client.clone();
        tokio::spawn(async move {
            // Let the re-render land first.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = client.revoke_lease(&old).await;
        });
        Ok(true)
    }

    /// Renders every template, fetching what is missing; writes the files
    /// whose bytes changed. On the first pass every template must render.
    async fn render_all(&mut self, first: bool) -> Result<(), String> {
        let templates = self.cfg.templates.clone();
        self.render_failed = false;
        for (i, t) in templates.iter().enumerate() {
            let src = match (&t.contents, &t.source) {
                (Some(c), _) => c.clone(),
                (None, Some(p)) => std::fs::read_to_string(p)
                    .map_err(|e| format!("template {}: reading {}: {e}", t.origin, p.display()))?,
                (None, None) => String::new(),
            };
            let delims = (t.left_delimiter.as_str(), t.right_delimiter.as_str());
            let text = self
                .render_text(&src, delims, t.error_on_missing_key)
                .await
                .map_err(|e| format!("template {} ({}): {e}", t.origin, t.destination.display()));
            let text = match text {
                Ok(t) => t,
                Err(e) if first => return Err(e),
                Err(e) => {
                    self.render_failed = true;
                    status::Status::add(&self.status.render_failures);
                    tracing::warn!("{e}; the last good file stays");
                    continue;
                }
            };
            if self.last[i].as_deref() == Some(text.as_str()) {
                continue;
            }
            let changed = files::write_owned(
                &t.destination,
                text.as_bytes(),
                t.perms,
                t.create_dest_dirs,
                t.owner,
            )
            .map_err(|e| format!("writing {}: {e}", t.destination.display()))?;
            self.last[i] = Some(text);
            if changed {
                status::Status::add(&self.status.renders);
                tracing::info!("rendered {}", t.destination.display());
                if t.command.is_some() || t.signal.is_some() {
                    // `min_interval` after the first change of a burst,
                    // once, with the file as the burst left it.
                    self.actions_due
                        .entry(i)
                        .or_insert(Instant::now() + t.min_interval);
                }
            }
        }
        self.run_due_actions().await;
        Ok(())
    }

    /// Runs the commands and sends the signals whose time has come.
    async fn run_due_actions(&mut self) {
        let now = Instant::now();
        let due: Vec<usize> = self
            .actions_due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(i, _)| *i)
            .collect();
        for i in due {
            self.actions_due.remove(&i);
            let t = &self.cfg.templates[i];
            if let Some(cmd) = &t.command {
                run_command(cmd, t.command_timeout).await;
            }
            if let Some(sig) = &t.signal {
                signal_processes(sig);
            }
        }
    }

    async fn render_text(
        &mut self,
        src: &str,
        delims: (&str, &str),
        error_on_missing_key: bool,
    ) -> Result<String, String> {
        // Each pass can only discover what the previous one's answers led
        // to (a path built from another secret): a few passes at most.
        for _ in 0..8 {
            match template::render(src, delims, error_on_missing_key, &self.cache) {
                Ok(r) => return Ok(r.text),
                Err(RenderError::Failed(e)) => return Err(e),
                Err(RenderError::Missing(deps)) => {
                    for d in deps {
                        self.fetch(&d).await?;
                    }
                }
            }
        }
        Err("the template's secrets depend on each other too deeply".into())
    }

    /// Reads (or, with parameters, writes) a dependency into the cache.
    async fn fetch(&mut self, dep: &Dep) -> Result<(), String> {
        let path = self.kv_path(&dep.path).await;
        let answer = if dep.params.is_empty() {
            self.client.read(&path).await
        } else {
            let body: Map<String, Json> = dep
                .params
                .iter()
                .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                .collect();
            self.client.write(&path, &Json::Object(body)).await
        };
        if answer.as_ref().is_err_and(|e| e.status() == Some(403)) {
            self.denied = true;
        }
        let secret = answer
            .map_err(|e| format!("{dep}: {e}"))?
            .ok_or_else(|| format!("{dep}: no secret at this path"))?;
        // KV v2 answers a deleted or destroyed latest version with its
        // metadata and no data: missing, as consul-template treats it
        // (the last good file stays).
        if secret.data.as_ref().is_some_and(kv2_deleted) {
            return Err(format!("{dep}: the secret's latest version is deleted"));
        }
        // A certificate (`pki/issue/…`) comes without a lease but with its
        // `expiration`: held like a lease that cannot be renewed, so it is
        // issued again at the renewal threshold of its validity, before it
        // expires (and not at every static refresh).
        let cert_left = secret
            .data
            .as_ref()
            .filter(|_| secret.lease_id.is_empty())
            .and_then(|d| d.get("expiration"))
            .and_then(Json::as_i64)
            .map(|exp| exp - handoff::now_unix())
            .filter(|left| *left > 0);
        if let Some(left) = cert_left {
            let now = Instant::now();
            let ttl = Duration::from_secs(left.unsigned_abs());
            self.leases.insert(
                dep.clone(),
                Held {
                    lease_id: String::new(),
                    renewable: false,
                    due: now + ttl.mul_f64(self.cfg.template_config.lease_renewal_threshold),
                    expires: now + ttl,
                },
            );
        } else if !secret.lease_id.is_empty() && secret.lease_duration > 0 {
            let now = Instant::now();
            let ttl = Duration::from_secs(u64::try_from(secret.lease_duration).unwrap_or(0));
            self.leases.insert(
                dep.clone(),
                Held {
                    lease_id: secret.lease_id.clone(),
                    renewable: secret.renewable,
                    due: now + ttl.mul_f64(self.cfg.template_config.lease_renewal_threshold),
                    expires: now + ttl,
                },
            );
        }
        Arc::make_mut(&mut self.cache).insert(dep.clone(), template::secret_value(&secret));
        self.raw.insert(dep.clone(), secret);
        Ok(())
    }

    /// consul-template's KV v2 rule: `secret/app` on a v2 mount reads
    /// `secret/data/app`.
    async fn kv_path(&mut self, path: &str) -> String {
        let first = path.split('/').next().unwrap_or_default().to_owned() + "/";
        let v2 = match self.kv2.get(&first) {
            Some(v) => *v,
            None => {
                let v = self
                    .client
                    .kv_preflight(path)
                    .await
                    .is_ok_and(|m| m.is_v2());
                self.kv2.insert(first.clone(), v);
                v
            }
        };
        match path.strip_prefix(&first) {
            Some(rest) if v2 && !rest.starts_with("data/") && !rest.starts_with("metadata/") => {
                format!("{first}data/{rest}")
            }
            _ => path.to_owned(),
        }
    }
}

fn kv2_deleted(data: &Map<String, Json>) -> bool {
    let Some(md) = data.get("metadata").and_then(Json::as_object) else {
        return false;
    };
    data.get("data").is_some_and(Json::is_null)
        && (md.get("destroyed") == Some(&Json::Bool(true))
            || md
                .get("deletion_time")
                .and_then(Json::as_str)
                .is_some_and(|t| !t.is_empty()))
}

/// A template's signal, to the process of its pid file or to every process
/// of its name (`/proc/<pid>/comm`); a failure is logged, not fatal.
fn signal_processes(s: &config::Signal) {
    let Some(sig) = exec::signal(&s.name) else {
        return;
    };
    let mut pids = Vec::new();
    if let Some(p) = &s.pid_file {
        match std::fs::read_to_string(p).map(|t| t.trim().parse::<i32>()) {
            Ok(Ok(pid)) => pids.push(pid),
            _ => tracing::warn!("signal {}: no pid in {}", s.name, p.display()),
        }
    }
    if let Some(name) = &s.process {
        let me = std::process::id();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if u32::try_from(pid).is_ok_and(|p| p == me) {
                continue;
            }
            if std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == name) {
                pids.push(pid);
            }
        }
        if pids.is_empty() {
            tracing::warn!("signal {}: no process named {name}", s.name);
        }
    }
    for pid in pids {
        match rustix::process::Pid::from_raw(pid) {
            Some(p) => {
                if let Err(e) = rustix::process::kill_process(p, sig) {
                    tracing::warn!("signal {} to {pid}: {e}", s.name);
                }
            }
            None => tracing::warn!("signal {}: {pid} is not a process id", s.name),
        }
    }
}

/// A template's command: a shell line (one string) or an argv; bounded by
/// its timeout; its failure is logged, not fatal.
async fn run_command(cmd: &[String], timeout: Duration) {
    let mut c = match cmd {
        [line] => {
            let mut c = tokio::process::Command::new("/bin/sh");
            c.arg("-c").arg(line);
            c
        }
        [prog, args @ ..] => {
            let mut c = tokio::process::Command::new(prog);
            c.args(args);
            c
        }
        [] => return,
    };
    c.kill_on_drop(true);
    match tokio::time::timeout(timeout, c.status()).await {
        Ok(Ok(s)) if s.success() => {}
        Ok(Ok(s)) => tracing::warn!("command {cmd:?} exited with {s}"),
        Ok(Err(e)) => tracing::warn!("command {cmd:?} could not run: {e}"),
        Err(_) => tracing::warn!("command {cmd:?} timed out after {timeout:?}"),
    }
}

/// Where the configuration comes from: `-config FILE` (HCL or JSON), or
/// the environment variable the injector sets.
pub fn load_config(path: Option<PathBuf>, env_var: &str) -> Result<Config, String> {
    match path {
        Some(p) => {
            let src =
                std::fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))?;
            let origin = p.display().to_string();
            if p.extension().is_some_and(|e| e == "json") {
                config::from_json(&src, &origin)
            } else {
                config::from_hcl(&src, &origin)
            }
            .map_err(|e| e.to_string())
        }
        None => {
            let src = std::env::var(env_var)
                .map_err(|_| format!("no -config given and {env_var} is not set"))?;
            config::from_json(&src, env_var).map_err(|e| e.to_string())
        }
    }
}
