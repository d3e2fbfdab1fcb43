//! The `userpass` auth method: users with an Argon2id password hash and
//! token settings (`token_*`), and `login/:username`. Usernames are
//! case-insensitive (stored lowercased, as Vault does). A failed login
//! says only "invalid username or password", and takes as long whether or
//! not the user exists.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::auth::password;
use crate::auth::token_params::TokenParams;
use crate::backend::Backend;
use crate::barrier::View;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Login, Operation, Request, Response};
use crate::secret::SecretString;

/// `user/<name>` -> User.
const USER_PREFIX: &str = "user/";

#[derive(Serialize, Deserialize)]
struct User {
    /// PHC string (Argon2id); never the password.
    password_hash: String,
    #[serde(default)]
    token: TokenParams,
}

pub struct Userpass {
    view: View,
    /// Serializes read-modify-write of users.
    write: tokio::sync::Mutex<()>,
}

fn invalid_login() -> Error {
    Error::invalid("invalid username or password")
}

fn password_field(req: &Request) -> Result<Option<SecretString>> {
    Ok(fields::string(&req.data, "password")?
        .filter(|p| !p.is_empty())
        .map(SecretString::new))
}

impl Userpass {
    pub fn new(view: View) -> Self {
        Self {
            view,
            write: tokio::sync::Mutex::new(()),
        }
    }

    fn key(name: &str) -> String {
        format!("{USER_PREFIX}{}", name.to_lowercase())
    }

    async fn user(&self, name: &str) -> Result<Option<User>> {
        Ok(self.view.get_json::<User>(&Self::key(name)).await?)
    }

    async fn write_user(&self, req: &Request, name: &str) -> Result<Response> {
        let _guard = self.write.lock().await;
        let existing = self.user(name).await?;
        let password = password_field(req)?;
        let mut token = existing
            .as_ref()
            .map(|u| u.token.clone())
            .unwrap_or_else(TokenParams::new);
        token.update(&req.data)?;
        let password_hash = match (password, existing) {
            (Some(p), _) => password::hash(p).await?,
            (None, Some(u)) => u.password_hash,
            (None, None) => return Err(Error::invalid("missing password")),
        };
        self.view
            .put_json(
                &Self::key(name),
                &User {
                    password_hash,
                    token,
                },
            )
            .await?;
        Ok(Response::empty())
    }

    async fn set_password(&self, req: &Request, name: &str) -> Result<Response> {
        let password = password_field(req)?.ok_or_else(|| Error::invalid("missing password"))?;
        let _guard = self.write.lock().await;
        let mut user = self
            .user(name)
            .await?
            .ok_or_else(|| Error::invalid("username does not exist"))?;
        user.password_hash = password::hash(password).await?;
        self.view.put_json(&Self::key(name), &user).await?;
        Ok(Response::empty())
    }

    async fn set_policies(&self, req: &Request, name: &str) -> Result<Response> {
        let _guard = self.write.lock().await;
        let mut user = self
            .user(name)
            .await?
            .ok_or_else(|| Error::invalid("username does not exist"))?;
        let mut only = Map::new();
        for k in ["token_policies", "policies"] {
            if let Some(v) = req.data.get(k) {
                only.insert(k.to_owned(), v.clone());
            }
        }
        user.token.update(&only)?;
        self.view.put_json(&Self::key(name), &user).await?;
        Ok(Response::empty())
    }

    async fn login(&self, req: &Request, name: &str) -> Result<Response> {
        let name = name.to_lowercase();
        let password = password_field(req)?.ok_or_else(|| Error::invalid("missing password"))?;
        let user = self.user(&name).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        if !password::verify(password, stored).await? {
            return Err(invalid_login());
        }
        let Some(user) = user else {
            return Err(invalid_login());
        };
        // token_bound_cidrs also bound where the user may log in from:
        // core/login.rs checks that for every method.
        let meta = std::collections::BTreeMap::from([("username".to_owned(), name.clone())]);
        Ok(Response::login(Login {
            alias_name: name.clone(),
            alias_metadata: Default::default(),
            display_name: name,
            metadata: meta,
            token: user.token,
        }))
    }
}

#[async_trait]
impl Backend for Userpass {
    /// Reads only read.
    fn pure_reads(&self) -> bool {
        true
    }

    async fn renew_login(&self, entry: &crate::token::TokenEntry) -> Result<Option<TokenParams>> {
        let name = crate::auth::token_meta(entry, "username");
        match self.user(&name).await? {
            Some(u) => Ok(Some(u.token)),
            None => Err(Error::invalid("user no longer exists")),
        }
    }

    fn unauthenticated_paths(&self) -> &'static [&'static str] {
        &["login/*"]
    }

    /// User names are stored lowercased, as in Vault.
    fn case_insensitive_names(&self) -> &'static [&'static str] {
        &["users/", "login/"]
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>> {
        let rel = req.rel_path();
        match rel.strip_prefix("users/") {
            Some(name) if !name.is_empty() && !name.contains('/') => {
                Ok(Some(self.user(name).await?.is_some()))
            }
            _ => Ok(None),
        }
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let rel = req.rel_path().to_owned();
        let op = req.operation;
        let write = matches!(op, Operation::Create | Operation::Update);
        let parts: Vec<&str> = rel.trim_end_matches('/').split('/').collect();
        match (parts.as_slice(), op) {
            (["users"], Operation::List) => {
                let mut names: Vec<String> = self.view.list(USER_PREFIX).await?;
                if names.is_empty() {
                    return Err(Error::NotFound);
                }
                names.sort();
                Ok(Response::list(names))
            }
            (["users", name], Operation::Read) => {
                let user = self.user(name).await?.ok_or(Error::NotFound)?;
                let mut data = Map::new();
                user.token.write_to(&mut data);
                Ok(Response::data(data))
            }
            (["users", name], _) if write => self.write_user(req, name).await,
            (["users", name], Operation::Delete) => {
                self.view.delete(&Self::key(name)).await?;
                Ok(Response::empty())
            }
            (["users", name, "password"], _) if write => self.set_password(req, name).await,
            (["users", name, "policies"], _) if write => self.set_policies(req, name).await,
            (["login", name], _) if write => self.login(req, name).await,
            (["users", ..] | ["login", ..], _) if !rel.contains("//") => {
                Err(Error::UnsupportedOperation)
            }
            _ => Err(Error::UnsupportedPath),
        }
    }
}
