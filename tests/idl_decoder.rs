//! A generic Anchor IDL account decoder: given only an IDL (JSON) and an account's bytes, it
//! names the account by its discriminator and decodes every field into JSON, the way an explorer
//! does. It knows nothing of Compute Market's Rust types, so comparing its output with the SDK's
//! typed view checks that the committed IDL really describes the accounts on-chain.
//!
//! Supported: integers, `bool`, `pubkey`, `string`, `bytes`, arrays, vectors, options, defined
//! structs and enums; Borsh layout, and `bytemuck` (`repr(C)`) layouts without padding, which
//! are the same bytes in the same order.

use serde_json::{json, Map, Value};

/// Decodes an account: `(account name, fields)`.
pub fn decode_account(idl: &Value, data: &[u8]) -> Result<(String, Value), String> {
    let accounts = idl["accounts"].as_array().ok_or("IDL has no accounts")?;
    let account = accounts
        .iter()
        .find(|a| {
            a["discriminator"].as_array().is_some_and(|d| {
                let d: Vec<u8> = d
                    .iter()
                    .filter_map(|b| b.as_u64().map(|b| b as u8))
                    .collect();
                data.starts_with(&d)
            })
        })
        .ok_or("no account of the IDL has this discriminator")?;
    let name = account["name"]
        .as_str()
        .ok_or("unnamed account")?
        .to_string();
    let disc_len = account["discriminator"].as_array().map_or(8, Vec::len);
    let mut rest = &data[disc_len..];
    let value = decode_defined(idl, &name, &mut rest)?;
    Ok((name, value))
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if data.len() < n {
        return Err(format!("account data ends early: need {n} more bytes"));
    }
    let (head, tail) = data.split_at(n);
    *data = tail;
    Ok(head)
}

fn uint(data: &mut &[u8], n: usize) -> Result<u128, String> {
    let bytes = take(data, n)?;
    Ok(bytes
        .iter()
        .rev()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b)))
}

fn decode_defined(idl: &Value, name: &str, data: &mut &[u8]) -> Result<Value, String> {
    let ty = idl["types"]
        .as_array()
        .and_then(|types| types.iter().find(|t| t["name"] == name))
        .ok_or_else(|| format!("type {name} not in the IDL"))?;
    let body = &ty["type"];
    match body["kind"].as_str() {
        Some("struct") => {
            let mut out = Map::new();
            for field in body["fields"].as_array().into_iter().flatten() {
                let fname = field["name"].as_str().ok_or("unnamed field")?;
                out.insert(fname.to_string(), decode(idl, &field["type"], data)?);
            }
            Ok(Value::Object(out))
        }
        Some("enum") => {
            let tag = uint(data, 1)? as usize;
            let variant = body["variants"]
                .get(tag)
                .ok_or_else(|| format!("{name}: no variant {tag}"))?;
            if variant.get("fields").is_some() {
                return Err(format!(
                    "{name}: enum variants with fields are not supported"
                ));
            }
            Ok(json!(variant["name"]))
        }
        other => Err(format!("{name}: unsupported type kind {other:?}")),
    }
}

/// Decodes one value of IDL type `ty`.
pub fn decode(idl: &Value, ty: &Value, data: &mut &[u8]) -> Result<Value, String> {
    if let Some(prim) = ty.as_str() {
        return Ok(match prim {
            "u8" | "u16" | "u32" | "u64" | "u128" => {
                let n = prim[1..].parse::<usize>().map_err(|e| e.to_string())? / 8;
                let v = uint(data, n)?;
                match u64::try_from(v) {
                    Ok(v) => json!(v),
                    Err(_) => json!(v.to_string()),
                }
            }
            "i8" | "i16" | "i32" | "i64" => {
                let n = prim[1..].parse::<usize>().map_err(|e| e.to_string())? / 8;
                let v = uint(data, n)?;
                let shift = 128 - 8 * n as u32;
                json!(((v << shift) as i128 >> shift) as i64)
            }
            "bool" => json!(uint(data, 1)? != 0),
            "pubkey" => json!(bs58::encode(take(data, 32)?).into_string()),
            "string" => {
                let len = uint(data, 4)? as usize;
                json!(String::from_utf8(take(data, len)?.to_vec()).map_err(|e| e.to_string())?)
            }
            "bytes" => {
                let len = uint(data, 4)? as usize;
                json!(take(data, len)?.to_vec())
            }
            other => return Err(format!("unsupported primitive {other}")),
        });
    }
    if let Some(array) = ty.get("array").and_then(Value::as_array) {
        let (inner, len) = (&array[0], array[1].as_u64().ok_or("array length")? as usize);
        return (0..len)
            .map(|_| decode(idl, inner, data))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Some(inner) = ty.get("vec") {
        let len = uint(data, 4)? as usize;
        return (0..len)
            .map(|_| decode(idl, inner, data))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Some(inner) = ty.get("option") {
        return if uint(data, 1)? == 0 {
            Ok(Value::Null)
        } else {
            decode(idl, inner, data)
        };
    }
    if let Some(name) = ty.get("defined").and_then(|d| d["name"].as_str()) {
        return decode_defined(idl, name, data);
    }
    Err(format!("unsupported IDL type {ty}"))
}

/// Bytes of a JSON array of numbers (as decoded `[u8; N]` fields are).
pub fn bytes(v: &Value) -> Vec<u8> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| b.as_u64().map(|b| b as u8))
                .collect()
        })
        .unwrap_or_default()
}
