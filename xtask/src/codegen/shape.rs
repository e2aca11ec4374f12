//! `crates/spaces-events/src/decode/shape.rs`: the JSON shapes `decode` checks, read off the generated
//! serde structs (their field types and `rename`/`default` attributes), so that the one-pass
//! check accepts exactly what the derived `Deserialize` impls accept.

use std::collections::{BTreeMap, VecDeque};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Fields, Item, Type};

use super::upper_snake;
use crate::Result;

/// The shape module for the types reachable from `root`, in `types` (the generated file).
pub(super) fn render(types: &syn::File, root: &str) -> Result<TokenStream> {
    let items: BTreeMap<String, &Item> = types
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Struct(s) => Some((s.ident.to_string(), item)),
            Item::Enum(e) => Some((e.ident.to_string(), item)),
            _ => None,
        })
        .collect();
    let mut queue = VecDeque::from([root.to_owned()]);
    let mut done = Vec::new();
    let mut out = TokenStream::new();
    let mut root_slots = TokenStream::new();
    while let Some(name) = queue.pop_front() {
        if done.contains(&name) {
            continue;
        }
        let Some(Item::Struct(item)) = items.get(&name) else {
            return Err(format!("shape: `{name}` is not a generated struct").into());
        };
        if has_serde_word(&item.attrs, "deny_unknown_fields") {
            return Err(format!(
                "shape: `{name}` denies unknown fields, which the check does not do"
            )
            .into());
        }
        let Fields::Named(fields) = &item.fields else {
            return Err(format!("shape: `{name}` has no named fields").into());
        };
        if fields.named.len() > 64 {
            return Err(format!("shape: `{name}` has more than 64 fields").into());
        }
        let is_root = name == root;
        let (mut entries, mut keys, mut slot, mut required) =
            (Vec::new(), Vec::new(), 0usize, 0u64);
        for (index, field) in fields.named.iter().enumerate() {
            let ident = field.ident.as_ref().ok_or("unnamed field")?;
            let key = serde_rename(&field.attrs)
                .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_owned());
            let shape = shape(&field.ty, &items, &mut queue)?;
            let names = inner_names(&field.ty);
            if names.first() != Some(&"Option") && !has_serde_word(&field.attrs, "default") {
                required |= 1 << index;
            }
            let is_string = matches!(names.as_slice(), ["String"] | ["Option", "String"]);
            let slot_tokens = if is_root && is_string {
                let value = proc_macro2::Literal::usize_unsuffixed(slot);
                let constant = format_ident!(
                    "{}",
                    ident.to_string().trim_start_matches("r#").to_uppercase()
                );
                let doc = format!("Slot of `{key}` among the root's string fields.");
                root_slots
                    .extend(quote! { #[doc = #doc] pub(crate) const #constant: usize = #value; });
                slot += 1;
                quote! { Some(#constant) }
            } else {
                quote! { None }
            };
            entries.push(quote! { Field { shape: #shape, slot: #slot_tokens } });
            let index = proc_macro2::Literal::usize_unsuffixed(index);
            keys.push(quote! { #key => Some(#index) });
        }
        let required = proc_macro2::Literal::u64_unsuffixed(required);
        if is_root {
            let slot = proc_macro2::Literal::usize_unsuffixed(slot);
            root_slots.extend(quote! {
                /// How many string fields the root has.
                pub(crate) const STRINGS: usize = #slot;
            });
        }
        let constant = format_ident!("{}", upper_snake(&name));
        let index = format_ident!("{}_index", upper_snake(&name).to_lowercase());
        let doc = format!("The JSON shape of [`{name}`](crate::types::{name}).");
        out.extend(quote! {
            #[doc = #doc]
            pub(crate) static #constant: Object = Object {
                fields: &[ #(#entries),* ],
                required: #required,
                index: #index,
            };
            fn #index(key: &str) -> Option<usize> {
                match key { #(#keys,)* _ => None }
            }
        });
        done.push(name);
    }
    Ok(quote! {
        use super::scan::{Field, Object, Shape};
        #out
        #root_slots
    })
}

/// The shape of a field type: `Option<T>`, `Vec<T>`, `String`, `bool`, `i64`,
/// `serde_json::Value`, a generated struct, or an untagged enum of those.
fn shape(
    ty: &Type,
    items: &BTreeMap<String, &Item>,
    queue: &mut VecDeque<String>,
) -> Result<TokenStream> {
    let Type::Path(path) = ty else {
        return Err(format!("shape: unsupported type {}", quote!(#ty)).into());
    };
    let last = path.path.segments.last().ok_or("empty type path")?;
    let argument = || -> Result<&Type> {
        match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                Some(syn::GenericArgument::Type(t)) => Ok(t),
                _ => Err("shape: a generic without a type argument".into()),
            },
            _ => Err("shape: a generic without arguments".into()),
        }
    };
    Ok(match last.ident.to_string().as_str() {
        "Option" => {
            let inner = shape(argument()?, items, queue)?;
            quote! { Shape::Nullable(&#inner) }
        }
        "Vec" => {
            let inner = shape(argument()?, items, queue)?;
            quote! { Shape::Array(&#inner) }
        }
        "String" => quote! { Shape::Str },
        "bool" => quote! { Shape::Bool },
        "i64" => quote! { Shape::Int },
        "Value" => quote! { Shape::Any },
        name => match items.get(name) {
            Some(Item::Struct(_)) => {
                queue.push_back(name.to_owned());
                let constant = format_ident!("{}", upper_snake(name));
                quote! { Shape::Object(&#constant) }
            }
            Some(Item::Enum(e)) if has_serde_word(&e.attrs, "untagged") => {
                let variants = e
                    .variants
                    .iter()
                    .map(|v| match &v.fields {
                        Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                            shape(&f.unnamed[0].ty, items, queue)
                        }
                        _ => Err(format!(
                            "shape: variant `{}` of `{name}` is not a newtype",
                            v.ident
                        )
                        .into()),
                    })
                    .collect::<Result<Vec<_>>>()?;
                quote! { Shape::OneOf(&[ #(#variants),* ]) }
            }
            _ => return Err(format!("shape: unsupported type `{name}`").into()),
        },
    })
}

/// The nesting of a type by last path segment: `["Option", "String"]`.
fn inner_names(ty: &Type) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut ty = ty;
    while let Type::Path(path) = ty {
        let Some(last) = path.path.segments.last() else {
            break;
        };
        names.push(match last.ident.to_string().as_str() {
            "Option" => "Option",
            "String" => "String",
            _ => "other",
        });
        match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                Some(syn::GenericArgument::Type(t)) => ty = t,
                _ => break,
            },
            _ => break,
        }
    }
    names
}

/// The entries of `#[serde(...)]`: each name, with its value if it has one (`name = value`).
fn serde_entries(attrs: &[syn::Attribute]) -> Vec<(String, Option<syn::Expr>)> {
    let mut entries = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let value = if meta.input.peek(syn::Token![=]) {
                Some(meta.value()?.parse::<syn::Expr>()?)
            } else {
                None
            };
            entries.push((name, value));
            Ok(())
        });
    }
    entries
}

/// `#[serde(rename = "...")]`.
fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    serde_entries(attrs)
        .into_iter()
        .find_map(|(name, value)| match value {
            Some(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            })) if name == "rename" => Some(s.value()),
            _ => None,
        })
}

/// Whether `#[serde(...)]` holds the bare word `word` (`default`, `untagged`, ...).
fn has_serde_word(attrs: &[syn::Attribute], word: &str) -> bool {
    serde_entries(attrs)
        .iter()
        .any(|(name, value)| name == word && value.is_none())
}
