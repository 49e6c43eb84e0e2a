//! Keycloak's claim layout: how the claims of a verified token become a [`Principal`].

use super::authenticator::invalid;
use crate::principal::Principal;
use crate::transport::AuthError;
use serde_json::{Map, Value};
use std::time::{Duration, UNIX_EPOCH};

/// The principal a verified token's `claims` name: `sub`, `preferred_username`, `exp`, and the
/// realm roles (when `realm_roles`) followed by the roles of each of `clients`.
pub(super) fn principal(
    claims: &Map<String, Value>,
    realm_roles: bool,
    clients: &[String],
) -> Result<Principal, AuthError> {
    let id = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub,
        Some(Value::String(_)) => return Err(invalid("empty `sub` claim")),
        None | Some(Value::Null) => return Err(invalid("missing `sub` claim")),
        Some(_) => return Err(invalid("malformed `sub` claim")),
    };
    let name = match claims.get("preferred_username") {
        Some(Value::String(name)) if !name.is_empty() => name,
        None | Some(Value::Null | Value::String(_)) => id,
        Some(_) => return Err(invalid("malformed `preferred_username` claim")),
    };
    let expires_at = match claims.get("exp") {
        Some(Value::Number(exp)) => exp
            .as_u64()
            .or_else(|| {
                exp.as_f64()
                    .filter(|secs| secs.is_finite() && *secs >= 0.0)
                    .and_then(|secs| Duration::try_from_secs_f64(secs.round()).ok())
                    .map(|secs| secs.as_secs())
            })
            .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
            .ok_or_else(|| invalid("malformed `exp` claim"))?,
        None | Some(Value::Null) => return Err(invalid("missing `exp` claim")),
        Some(_) => return Err(invalid("malformed `exp` claim")),
    };

    let mut roles: Vec<String> = Vec::new();
    if realm_roles {
        let realm = roles_at(claims.get("realm_access"))
            .ok_or_else(|| invalid("malformed `realm_access.roles` claim"))?;
        add_roles(&mut roles, realm);
    }
    if !clients.is_empty() {
        let resource_access = match claims.get("resource_access") {
            None | Some(Value::Null) => None,
            Some(Value::Object(clients)) => Some(clients),
            Some(_) => return Err(invalid("malformed `resource_access` claim")),
        };
        for client in clients {
            let granted = roles_at(resource_access.and_then(|clients| clients.get(client)))
                .ok_or_else(|| {
                    invalid(format!("malformed `resource_access.{client}.roles` claim"))
                })?;
            add_roles(&mut roles, granted);
        }
    }

    Ok(Principal::new(id.as_str(), name.as_str())
        .with_roles(roles)
        .with_expiry(expires_at))
}

/// The `roles` list of a `{"roles": [...]}` object; `None` when it is malformed. An absent object
/// or list grants nothing.
fn roles_at(access: Option<&Value>) -> Option<&[Value]> {
    match access {
        None | Some(Value::Null) => Some(&[]),
        Some(Value::Object(access)) => match access.get("roles") {
            None | Some(Value::Null) => Some(&[]),
            Some(Value::Array(roles)) => Some(roles),
            Some(_) => None,
        },
        Some(_) => None,
    }
}

fn add_roles(roles: &mut Vec<String>, granted: &[Value]) {
    for role in granted {
        if let Value::String(role) = role
            && !roles.contains(role)
        {
            roles.push(role.clone());
        }
    }
}
