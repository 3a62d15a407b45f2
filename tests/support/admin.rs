//! A management-API client for tests. Every response it receives is checked against the
//! OpenAPI document the worker serves, so the document cannot drift from the API.

use serde_json::Value;

use super::{Gateway, Reply, send};
use keygate::domain::UnixMillis;

/// Talks to `/_keygate/v1` with one credential header.
pub struct Admin<'a> {
    gateway: &'a Gateway,
    credential: (&'static str, String),
    spec: Value,
}

impl<'a> Admin<'a> {
    /// With `Authorization: Bearer <token>` (the admin token or an API key).
    pub fn bearer(gateway: &'a Gateway, token: &str) -> Admin<'a> {
        Self::with(gateway, ("authorization", format!("Bearer {token}")))
    }

    /// With any credential header, e.g. `("x-api-key", key)`.
    pub fn with(gateway: &'a Gateway, credential: (&'static str, String)) -> Admin<'a> {
        let spec = send(gateway, "GET", "/_keygate/v1/openapi.json", &[], None).json();
        Admin {
            gateway,
            credential,
            spec,
        }
    }

    /// Sends a request to `/_keygate/v1{path}` and checks the response against the document.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        self.call_with(method, path, body, &[])
    }

    /// As [`Admin::call`], with extra headers.
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut all: Vec<(&str, &str)> = vec![(self.credential.0, self.credential.1.as_str())];
        all.extend_from_slice(headers);
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        let reply = send(
            self.gateway,
            method,
            &format!("/_keygate/v1{path}"),
            &all,
            body.map(str::as_bytes),
        );
        if reply.header("content-type") == Some("application/json")
            && let Err(e) = conforms(&self.spec, method, path, reply.status, &reply.json())
        {
            panic!(
                "{method} {path} → {} does not match openapi.json: {e}\n{}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        reply
    }

    /// Creates or updates an organization; panics unless it succeeds.
    pub fn put_org(&self, org: &str, body: &str) -> Value {
        let r = self.call("PUT", &format!("/orgs/{org}"), Some(body));
        assert!(
            matches!(r.status, 200 | 201),
            "PUT org {org}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    /// Creates a key; returns `(full key, key id)`. Panics unless it succeeds.
    pub fn create_key(&self, org: &str, body: &str) -> (String, String) {
        let r = self.call("POST", &format!("/orgs/{org}/keys"), Some(body));
        assert_eq!(
            r.status,
            201,
            "create key: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        (
            v["key"].as_str().unwrap().to_owned(),
            v["id"].as_str().unwrap().to_owned(),
        )
    }
}

/// Checks `body` against the response schema of `method path` with `status`.
pub fn conforms(
    spec: &Value,
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
) -> Result<(), String> {
    let path = path.split('?').next().unwrap_or(path);
    let template = template_for(spec, path)
        .ok_or_else(|| format!("no path in the document matches {path}"))?;
    if status == 405 {
        // The method is, by definition, not documented for this path.
        return validate(
            spec,
            &serde_json::json!({"$ref": "#/components/schemas/Error"}),
            body,
            "$",
        );
    }
    let op = &spec["paths"][template.as_str()][method.to_ascii_lowercase()];
    if op.is_null() {
        return Err(format!("{method} {template} is not documented"));
    }
    let response = &op["responses"][status.to_string()];
    if response.is_null() {
        return Err(format!(
            "status {status} of {method} {template} is not documented"
        ));
    }
    let schema = &response["content"]["application/json"]["schema"];
    if schema.is_null() {
        return Ok(());
    }
    validate(spec, schema, body, "$")
}

/// The documented template (`/v1/orgs/{org}`) for a concrete path, preferring literal segments.
fn template_for(spec: &Value, path: &str) -> Option<String> {
    let concrete = format!("/v1{path}");
    let segments: Vec<&str> = concrete.split('/').collect();
    spec["paths"]
        .as_object()?
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (p, s) in parts.iter().zip(&segments) {
                if p.starts_with('{') {
                    continue;
                }
                if p != s {
                    return None;
                }
                literal += 1;
            }
            Some((literal, template.clone()))
        })
        .max()
        .map(|(_, t)| t)
}

/// JSON Schema, the subset the document uses: $ref, type (one or several), enum, required,
/// properties, additionalProperties, items, format date-time, minimum.
fn validate(spec: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return validate(spec, &spec["components"]["schemas"][name], v, at);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {types:?}"));
        }
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {values:?}"));
    }
    if schema["format"] == "date-time"
        && let Some(s) = v.as_str()
    {
        UnixMillis::parse_rfc3339(s).ok_or_else(|| format!("{at}: {s:?} is not date-time"))?;
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_i64(), v.as_i64())
        && n < min
    {
        return Err(format!("{at}: {n} < minimum {min}"));
    }
    if let Some(object) = v.as_object() {
        for name in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                return Err(format!("{at}: missing required {name}"));
            }
        }
        for (name, value) in object {
            let here = format!("{at}.{name}");
            match (&schema["properties"][name], &schema["additionalProperties"]) {
                (Value::Null, Value::Bool(false)) if schema.get("properties").is_some() => {
                    return Err(format!("{here}: not in the document"));
                }
                (Value::Null, extra) if extra.is_object() => validate(spec, extra, value, &here)?,
                (Value::Null, _) => {}
                (prop, _) => validate(spec, prop, value, &here)?,
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), v.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(spec, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}
