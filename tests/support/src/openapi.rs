//! The OpenAPI document the worker serves, as a test oracle: every management response the
//! admin client receives must match the document's schema for its route and status.

use keygate::domain::UnixMillis;
use serde_json::Value;

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

/// JSON Schema, the subset the document uses: $ref, oneOf, type (one or several), enum,
/// required, properties, additionalProperties, items, format date-time, minimum.
fn validate(spec: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return validate(spec, &spec["components"]["schemas"][name], v, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options
            .iter()
            .filter(|o| validate(spec, o, v, at).is_ok())
            .count();
        if matching != 1 {
            return Err(format!(
                "{at}: {v} matches {matching} of the oneOf schemas, not exactly one"
            ));
        }
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
