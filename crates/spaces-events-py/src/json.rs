//! Python values straight from an event's checked JSON (`spaces_events::raw`): what `to_dict()`
//! and the field getters return, equal to what `json.loads` gives for the same text.

use std::cell::RefCell;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};
use spaces_events::raw::{Str, Value, Visitor};

/// `value` as Python: `dict`, `list`, `str`, `int`, `float`, `bool` or `None`.
pub(crate) fn value<'py>(py: Python<'py>, value: Value<'_>) -> PyResult<Bound<'py, PyAny>> {
    let mut builder = Builder {
        py,
        open: Vec::new(),
        done: None,
    };
    value.visit(&mut builder)?;
    Ok(builder.done.unwrap_or_else(|| py.None().into_bound(py)))
}

/// Python objects as [`Value::visit`] meets the values: one pass over the text.
struct Builder<'py> {
    py: Python<'py>,
    /// The open containers, innermost last.
    open: Vec<Bound<'py, PyAny>>,
    /// The outermost value, once complete.
    done: Option<Bound<'py, PyAny>>,
}

impl<'py> Builder<'py> {
    /// Puts `item` in the innermost open container (under `key` in a `dict`), or makes it the
    /// result.
    fn put(&mut self, key: Option<Str<'_>>, item: Bound<'py, PyAny>) -> PyResult<()> {
        match (self.open.last(), key) {
            (Some(dict), Some(key)) => dict
                .cast::<PyDict>()?
                .set_item(self::key(self.py, key)?, item),
            (Some(list), None) => list.cast::<PyList>()?.append(item),
            (None, _) => {
                self.done = Some(item);
                Ok(())
            }
        }
    }
}

impl<'a, 'py> Visitor<'a> for Builder<'py> {
    type Error = PyErr;

    fn open(&mut self, key: Option<Str<'a>>, object: bool) -> PyResult<()> {
        let container = if object {
            PyDict::new(self.py).into_any()
        } else {
            PyList::empty(self.py).into_any()
        };
        self.put(key, container.clone())?;
        self.open.push(container);
        Ok(())
    }

    fn close(&mut self) -> PyResult<()> {
        self.open.pop();
        Ok(())
    }

    fn value(&mut self, key: Option<Str<'a>>, value: Value<'a>) -> PyResult<()> {
        let py = self.py;
        let item = match value {
            Value::Null => py.None().into_bound(py),
            Value::Bool(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any(),
            Value::Number(n) => number(py, n)?,
            Value::String(s) => string(py, s)?.into_any(),
            // Containers are opened and closed, never visited as values.
            Value::Array(_) | Value::Object(_) => return Ok(()),
        };
        self.put(key, item)
    }
}

/// `value` as Python, `None` for an absent field.
pub(crate) fn field<'py>(py: Python<'py>, value: Option<Value<'_>>) -> PyResult<Bound<'py, PyAny>> {
    value.map_or_else(|| Ok(py.None().into_bound(py)), |v| self::value(py, v))
}

/// A number as `json.loads` reads it: `int` for an integer, else `float`.
fn number<'py>(py: Python<'py>, n: &str) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(i.into_pyobject(py)?.into_any());
    }
    if n.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        // An integer beyond 64 bits: Python's own `int`, exact.
        static INT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        return INT.import(py, "builtins", "int")?.call1((n,));
    }
    Ok(n.parse::<f64>()
        .unwrap_or(f64::NAN)
        .into_pyobject(py)?
        .into_any())
}

/// A string. One with an unpaired surrogate escape (valid JSON, not valid Unicode, so Rust
/// cannot hold it) is left to `json.loads`, which keeps the surrogate as Python does.
pub(crate) fn string<'py>(py: Python<'py>, s: Str<'_>) -> PyResult<Bound<'py, PyString>> {
    let text = s.get();
    if s.is_escaped() && text.contains(char::REPLACEMENT_CHARACTER) && s.raw().contains("\\u") {
        static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let quoted = format!("\"{}\"", s.raw());
        return Ok(LOADS
            .import(py, "json", "loads")?
            .call1((quoted,))?
            .cast_into::<PyString>()?);
    }
    Ok(PyString::new(py, &text))
}

/// Keys this short are cached: field names, which repeat in every event.
const CACHED_KEY: usize = 32;
const SLOTS: usize = 512;

/// A cached key: its text and the string made of it.
type Key = Option<(Box<str>, Py<PyString>)>;

thread_local! {
    /// Recent keys by a hash of their text (as orjson and jiter do): a dict key costs a lookup,
    /// not a new string, when it was seen before.
    static KEYS: RefCell<Vec<Key>> =
        RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// A dict key, from the cache when it was made before.
fn key<'py>(py: Python<'py>, key: Str<'_>) -> PyResult<Bound<'py, PyString>> {
    let raw = key.raw();
    if key.is_escaped() || raw.len() > CACHED_KEY {
        return string(py, key);
    }
    // FNV-1a: short keys, one multiplication a byte.
    let hash = raw.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let slot = (hash % SLOTS as u64) as usize;
    KEYS.with_borrow_mut(|keys| {
        if let Some((text, made)) = &keys[slot]
            && **text == *raw
        {
            return Ok(made.bind(py).clone());
        }
        let made = PyString::new(py, raw);
        keys[slot] = Some((raw.into(), made.clone().unbind()));
        Ok(made)
    })
}
