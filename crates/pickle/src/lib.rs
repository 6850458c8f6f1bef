//! A small reader for Python pickles: enough of the protocol (0 to 5, in-band data only) to load
//! the dicts of lists and NumPy arrays that NAS-Bench-201's ImageNet16 files hold, and the
//! nested dicts (OrderedDicts, NumPy scalars) of the NAS-Bench-201 and NATS-Bench archives.
//!
//! It runs the pickle machine (docs.python.org/3/library/pickle.html, `Lib/pickletools.py` lists
//! every opcode) but never imports or calls anything: a global is kept as its name and a
//! `REDUCE`/`NEWOBJ`/`BUILD` as an [`Value::Object`] recording callable, arguments and state,
//! which [`Value::as_ndarray`] then recognises. Loading an untrusted pickle is therefore safe.

use std::cell::RefCell;
use std::rc::Rc;

/// A decoded pickle value.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A float.
    Float(f64),
    /// `bytes`, `bytearray` or a Python 2 `str`.
    Bytes(Rc<Vec<u8>>),
    /// A (unicode) string.
    Str(Rc<str>),
    /// A list (shared: the pickle memo may refer to it while it is being filled).
    List(Rc<RefCell<Vec<Value>>>),
    /// A tuple.
    Tuple(Rc<Vec<Value>>),
    /// A dict, as key/value pairs in insertion order.
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// A global reference `module.name`, never resolved.
    Global(Rc<str>, Rc<str>),
    /// An object built by calling something: what was called, with what, and the `BUILD` state.
    Object(Rc<RefCell<Object>>),
}

/// An unexecuted call recorded by `REDUCE` or `NEWOBJ`.
#[derive(Debug, Clone)]
pub struct Object {
    /// The callable (usually a [`Value::Global`]).
    pub callable: Value,
    /// The positional arguments.
    pub args: Vec<Value>,
    /// State from `BUILD`, if any.
    pub state: Option<Value>,
}

/// A NumPy array recovered from its pickle form.
#[derive(Debug, Clone)]
pub struct NdArray {
    /// The shape.
    pub shape: Vec<usize>,
    /// The dtype string, e.g. `u1` or `i8`.
    pub dtype: String,
    /// Whether multi-byte elements are big-endian.
    pub big_endian: bool,
    /// The raw element bytes in C order.
    pub data: Rc<Vec<u8>>,
}

impl Value {
    /// The value stored under string key `key` when `self` is a dict (str or bytes keys).
    pub fn get(&self, key: &str) -> Option<Value> {
        let Value::Dict(d) = self else { return None };
        d.borrow().iter().find(|(k, _)| k.as_str_like() == Some(key)).map(|(_, v)| v.clone())
    }

    /// The text of a `Str`, or of `Bytes` read as Latin-1 ASCII (Python 2 `str`).
    pub fn as_str_like(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The integers of a list or tuple of ints, or of an integer NumPy array.
    pub fn as_int_vec(&self) -> Option<Vec<i64>> {
        match self {
            Value::List(l) => l
                .borrow()
                .iter()
                .map(|v| if let Value::Int(i) = v { Some(*i) } else { None })
                .collect(),
            Value::Tuple(t) => {
                t.iter().map(|v| if let Value::Int(i) = v { Some(*i) } else { None }).collect()
            }
            Value::Object(_) => self.as_ndarray()?.to_i64(),
            _ => None,
        }
    }

    /// The NumPy array this value encodes (`numpy.core.multiarray._reconstruct` + `BUILD`).
    pub fn as_ndarray(&self) -> Option<NdArray> {
        let Value::Object(o) = self else { return None };
        let o = o.borrow();
        match &o.callable {
            Value::Global(m, n) if m.starts_with("numpy") && &**n == "_reconstruct" => {}
            _ => return None,
        }
        // State: (version, shape, dtype, is_fortran, raw data).
        let Some(Value::Tuple(st)) = &o.state else { return None };
        let st = &st[st.len().checked_sub(4)?..];
        let shape = match &st[0] {
            Value::Tuple(t) => t
                .iter()
                .map(|v| if let Value::Int(i) = v { usize::try_from(*i).ok() } else { None })
                .collect::<Option<Vec<_>>>()?,
            _ => return None,
        };
        if matches!(st[2], Value::Bool(true) | Value::Int(1)) {
            return None; // Fortran order: not produced by the files we read.
        }
        let (dtype, big_endian) = dtype_of(&st[1])?;
        let data = st[3].as_bytes()?;
        Some(NdArray { shape, dtype, big_endian, data })
    }

    /// A number: an int, a float, a bool, or a NumPy scalar (`numpy.core.multiarray.scalar`
    /// of a float or integer dtype, as `np.float64` values pickle).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Object(o) => {
                let o = o.borrow();
                match &o.callable {
                    Value::Global(m, n) if m.starts_with("numpy") && &**n == "scalar" => {}
                    _ => return None,
                }
                let (dtype, big) = dtype_of(o.args.first()?)?;
                let raw = o.args.get(1)?.as_bytes()?;
                let a = NdArray { shape: vec![1], dtype, big_endian: big, data: raw };
                a.to_f64().and_then(|v| v.first().copied())
            }
            _ => None,
        }
    }

    /// An integer (an int, or a NumPy integer scalar).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            other => {
                other.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)
            }
        }
    }

    /// The key/value pairs of a dict (an `OrderedDict` reads as one), in insertion order.
    pub fn entries(&self) -> Option<Vec<(Value, Value)>> {
        match self {
            Value::Dict(d) => Some(d.borrow().clone()),
            _ => None,
        }
    }

    /// The items of a list, tuple or set.
    pub fn items(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) => Some(l.borrow().clone()),
            Value::Tuple(t) => Some(t.to_vec()),
            _ => None,
        }
    }

    /// Raw bytes: `bytes`, a Python 2 `str`, a Latin-1 text (Python 2 data reloaded with
    /// `encoding="latin1"`), or the `_codecs.encode(text, "latin1")` call that Python 3 writes
    /// for `bytes` at protocols 0 to 2.
    pub fn as_bytes(&self) -> Option<Rc<Vec<u8>>> {
        let latin1 = |s: &str| {
            s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect::<Option<Vec<u8>>>()
        };
        match self {
            Value::Bytes(b) => Some(b.clone()),
            Value::Str(s) => latin1(s).map(Rc::new),
            Value::Object(o) => {
                let o = o.borrow();
                let is_encode = matches!(&o.callable, Value::Global(m, n) if &**m == "_codecs" && &**n == "encode");
                match (is_encode, o.args.as_slice()) {
                    (true, [Value::Str(s)]) => latin1(s).map(Rc::new),
                    (true, [Value::Str(s), enc])
                        if enc.as_str_like().is_some_and(|e| {
                            e.eq_ignore_ascii_case("latin1") || e.eq_ignore_ascii_case("latin-1")
                        }) =>
                    {
                        latin1(s).map(Rc::new)
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// The dtype string and byte order of a pickled `numpy.dtype`.
fn dtype_of(v: &Value) -> Option<(String, bool)> {
    let Value::Object(o) = v else { return None };
    let o = o.borrow();
    let name = o.args.first()?.as_str_like()?.trim_start_matches(['<', '>', '|', '=']).to_string();
    let big = match &o.state {
        Some(Value::Tuple(t)) => t.get(1).and_then(Value::as_str_like) == Some(">"),
        _ => false,
    };
    Some((name, big))
}

impl NdArray {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The elements as f64 for float (`f4`, `f8`) and integer dtypes; `None` for other dtypes
    /// or a size mismatch.
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        let w = match self.dtype.as_str() {
            "f4" => 4,
            "f8" => 8,
            _ => return self.to_i64().map(|v| v.into_iter().map(|i| i as f64).collect()),
        };
        if self.data.len() != self.numel() * w {
            return None;
        }
        Some(
            self.data
                .chunks_exact(w)
                .map(|c| {
                    let mut b = c.to_vec();
                    if self.big_endian {
                        b.reverse();
                    }
                    if w == 4 {
                        f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    } else {
                        f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                    }
                })
                .collect(),
        )
    }

    /// The elements as i64 for integer dtypes; `None` for other dtypes or a size mismatch.
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        let n = self.numel();
        let w = match self.dtype.as_str() {
            "u1" | "i1" | "b1" => 1,
            "u2" | "i2" => 2,
            "u4" | "i4" => 4,
            "u8" | "i8" => 8,
            _ => return None,
        };
        if self.data.len() != n * w {
            return None;
        }
        let signed = self.dtype.starts_with('i');
        Some(
            self.data
                .chunks_exact(w)
                .map(|c| {
                    let mut b = [0u8; 8];
                    if self.big_endian {
                        b[8 - w..].copy_from_slice(c);
                        b.reverse();
                    } else {
                        b[..w].copy_from_slice(c);
                    }
                    let u = u64::from_le_bytes(b);
                    if signed && w < 8 {
                        let shift = 64 - 8 * w as u32;
                        ((u << shift) as i64) >> shift
                    } else {
                        u as i64
                    }
                })
                .collect(),
        )
    }
}

/// Parses a whole pickle; the error says which opcode at which offset failed.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    parse_prefix(bytes).map(|(v, _)| v)
}

/// Reads the pickle at the start of `bytes`, returning it and the bytes it took (files such as
/// PyTorch's legacy `torch.save` format hold several pickles back to back).
pub fn parse_prefix(bytes: &[u8]) -> Result<(Value, usize), String> {
    let mut m =
        Machine { b: bytes, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: Vec::new() };
    let v = m.run()?;
    Ok((v, m.pos))
}

struct Machine<'a> {
    b: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: Vec<Option<Value>>,
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len()).ok_or_else(|| {
            format!(
                "pickle ends early: needed {n} bytes at offset {}, file has {}",
                self.pos,
                self.b.len()
            )
        })?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(self.take(n)?);
        Ok(u64::from_le_bytes(b))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.b[self.pos..];
        let n = rest.iter().position(|&c| c == b'\n').ok_or("pickle ends inside a text line")?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn pop(&mut self) -> Result<Value, String> {
        self.stack.pop().ok_or_else(|| format!("stack underflow at offset {}", self.pos))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let m = self.marks.pop().ok_or_else(|| format!("no MARK before offset {}", self.pos))?;
        if m > self.stack.len() {
            return Err(format!("corrupt MARK at offset {}", self.pos));
        }
        Ok(self.stack.split_off(m))
    }

    fn top(&mut self) -> Result<&mut Value, String> {
        let pos = self.pos;
        self.stack.last_mut().ok_or_else(|| format!("stack underflow at offset {pos}"))
    }

    fn put(&mut self, idx: usize) -> Result<(), String> {
        let v = self.top()?.clone();
        if idx >= self.memo.len() {
            // Every memo entry costs at least one opcode byte, so no honest pickle has more
            // entries than bytes: the bound that stops a hostile index without capping real
            // archives (tens of millions of entries).
            if idx > self.b.len() {
                return Err(format!(
                    "memo index {idx} is beyond the pickle's {} bytes",
                    self.b.len()
                ));
            }
            self.memo.resize(idx + 1, None);
        }
        self.memo[idx] = Some(v);
        Ok(())
    }

    fn get(&mut self, idx: usize) -> Result<(), String> {
        let v = self
            .memo
            .get(idx)
            .cloned()
            .flatten()
            .ok_or_else(|| format!("memo key {idx} was never stored"))?;
        self.stack.push(v);
        Ok(())
    }

    fn bytes(&mut self, n: usize) -> Result<Value, String> {
        Ok(Value::Bytes(Rc::new(self.take(n)?.to_vec())))
    }

    fn text(&mut self, n: usize) -> Result<Value, String> {
        let s = std::str::from_utf8(self.take(n)?).map_err(|e| format!("bad UTF-8 string: {e}"))?;
        Ok(Value::Str(Rc::from(s)))
    }

    fn append(&mut self, items: Vec<Value>) -> Result<(), String> {
        match self.top()? {
            Value::List(l) => l.borrow_mut().extend(items),
            other => return Err(format!("APPEND to a non-list {}", kind(other))),
        }
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<(), String> {
        if items.len() % 2 == 1 {
            return Err("SETITEMS with an odd number of items".into());
        }
        match self.top()? {
            Value::Dict(d) => {
                let mut d = d.borrow_mut();
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.push((k, v));
                }
            }
            other => return Err(format!("SETITEM on a non-dict {}", kind(other))),
        }
        Ok(())
    }

    fn object(callable: Value, args: Value) -> Result<Value, String> {
        let args = match args {
            Value::Tuple(t) => t.to_vec(),
            other => {
                return Err(format!("call arguments are a {}, expected a tuple", kind(&other)))
            }
        };
        Ok(Value::Object(Rc::new(RefCell::new(Object { callable, args, state: None }))))
    }

    fn run(&mut self) -> Result<Value, String> {
        loop {
            let at = self.pos;
            let op = self
                .u8()
                .map_err(|_| "pickle ends without a STOP opcode (truncated)".to_string())?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(format!("pickle protocol {proto} is newer than 5"));
                    }
                }
                0x95 => {
                    self.le(8)?; // FRAME: a length prefix only.
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.stack.push(Value::Int(i64::from(v)))
                }
                b'K' => {
                    let v = self.le(1)?;
                    self.stack.push(Value::Int(v as i64))
                }
                b'M' => {
                    let v = self.le(2)?;
                    self.stack.push(Value::Int(v as i64))
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a { self.le(1)? } else { self.le(4)? } as usize;
                    if n > 8 {
                        return Err(format!(
                            "integer of {n} bytes at offset {at} does not fit in 64 bits"
                        ));
                    }
                    let raw = self.take(n)?;
                    let mut b = if raw.last().is_some_and(|&x| x & 0x80 != 0) {
                        [0xffu8; 8]
                    } else {
                        [0u8; 8]
                    };
                    b[..n].copy_from_slice(raw);
                    self.stack.push(Value::Int(i64::from_le_bytes(b)))
                }
                b'I' | b'L' => {
                    let l = self.line()?;
                    let t = l.trim_end_matches('L');
                    let v = match t {
                        "01" if op == b'I' => Value::Bool(true),
                        "00" if op == b'I' => Value::Bool(false),
                        _ => Value::Int(
                            t.parse().map_err(|_| format!("bad integer {l:?} at offset {at}"))?,
                        ),
                    };
                    self.stack.push(v)
                }
                b'G' => {
                    let b: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
                    self.stack.push(Value::Float(f64::from_be_bytes(b)))
                }
                b'F' => {
                    let l = self.line()?;
                    self.stack.push(Value::Float(
                        l.parse().map_err(|_| format!("bad float {l:?} at offset {at}"))?,
                    ))
                }
                b'T' | b'B' => {
                    let n = self.le(4)? as usize;
                    let v = self.bytes(n)?;
                    self.stack.push(v)
                }
                b'U' | b'C' => {
                    let n = self.le(1)? as usize;
                    let v = self.bytes(n)?;
                    self.stack.push(v)
                }
                0x8e | 0x96 => {
                    let n = usize::try_from(self.le(8)?)
                        .map_err(|_| "huge bytes object".to_string())?;
                    let v = self.bytes(n)?;
                    self.stack.push(v)
                }
                b'X' => {
                    let n = self.le(4)? as usize;
                    let v = self.text(n)?;
                    self.stack.push(v)
                }
                0x8c => {
                    let n = self.le(1)? as usize;
                    let v = self.text(n)?;
                    self.stack.push(v)
                }
                0x8d => {
                    let n = usize::try_from(self.le(8)?).map_err(|_| "huge string".to_string())?;
                    let v = self.text(n)?;
                    self.stack.push(v)
                }
                b'S' => {
                    // Protocol 0 quoted string: only plain printable contents are supported.
                    let l = self.line()?;
                    let inner = l.trim().trim_matches(|c| c == '\'' || c == '"');
                    if inner.contains('\\') {
                        return Err(format!(
                            "escaped protocol-0 string at offset {at} is not supported"
                        ));
                    }
                    self.stack.push(Value::Bytes(Rc::new(inner.as_bytes().to_vec())))
                }
                b'V' => {
                    let l = self.line()?;
                    self.stack.push(Value::Str(Rc::from(l.as_str())))
                }
                b']' => self.stack.push(Value::List(Rc::default())),
                b'}' => self.stack.push(Value::Dict(Rc::default())),
                b')' => self.stack.push(Value::Tuple(Rc::default())),
                0x8f => self.stack.push(Value::List(Rc::default())), // EMPTY_SET, kept as a list.
                0x90 => {
                    let items = self.pop_mark()?;
                    self.append(items)?
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))))
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))))
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(Rc::new(items)))
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Dict(Rc::default()));
                    self.set_items(items)?
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(format!("stack underflow at offset {at}"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(Rc::new(items)))
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?
                }
                b'p' => {
                    let l = self.line()?;
                    self.put(l.parse().map_err(|_| format!("bad PUT key {l:?}"))?)?
                }
                b'q' => {
                    let i = self.le(1)? as usize;
                    self.put(i)?
                }
                b'r' => {
                    let i = self.le(4)? as usize;
                    self.put(i)?
                }
                0x94 => {
                    let i = self.memo.len();
                    self.put(i)?
                }
                b'g' => {
                    let l = self.line()?;
                    self.get(l.parse().map_err(|_| format!("bad GET key {l:?}"))?)?
                }
                b'h' => {
                    let i = self.le(1)? as usize;
                    self.get(i)?
                }
                b'j' => {
                    let i = self.le(4)? as usize;
                    self.get(i)?
                }
                b'c' => {
                    let m = self.line()?;
                    let n = self.line()?;
                    self.stack.push(Value::Global(Rc::from(m.as_str()), Rc::from(n.as_str())))
                }
                0x93 => {
                    let n = self.pop()?;
                    let m = self.pop()?;
                    match (m.as_str_like(), n.as_str_like()) {
                        (Some(m), Some(n)) => {
                            self.stack.push(Value::Global(Rc::from(m), Rc::from(n)))
                        }
                        _ => {
                            return Err(format!("STACK_GLOBAL without two strings at offset {at}"))
                        }
                    }
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    // An empty OrderedDict is a dict for every reader here (SETITEMS fill it).
                    let ordered_dict = matches!(&callable, Value::Global(m, n) if &**m == "collections" && &**n == "OrderedDict")
                        && matches!(&args, Value::Tuple(t) if t.is_empty());
                    if ordered_dict {
                        self.stack.push(Value::Dict(Rc::default()));
                    } else {
                        self.stack.push(Self::object(callable, args)?)
                    }
                }
                b'P' | b'Q' => {
                    return Err(format!(
                        "persistent id at offset {at}: the pickle refers to storage outside it (torch tensors), which this reader does not load"
                    ))
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.stack.push(Self::object(callable, args)?)
                }
                b'b' => {
                    let state = self.pop()?;
                    match self.top()? {
                        Value::Object(o) => o.borrow_mut().state = Some(state),
                        other => return Err(format!("BUILD on a {} at offset {at}", kind(other))),
                    }
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v)
                }
                0x97 | 0x98 => {
                    return Err(
                        "pickle uses out-of-band buffers (protocol 5), which a file cannot carry"
                            .into(),
                    )
                }
                other => {
                    return Err(format!(
                    "unknown pickle opcode 0x{other:02x} at offset {at}: not a pickle, or corrupt"
                ))
                }
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Bytes(_) => "bytes",
        Value::Str(_) => "str",
        Value::List(_) => "list",
        Value::Tuple(_) => "tuple",
        Value::Dict(_) => "dict",
        Value::Global(..) => "global",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps({'labels': [1, 300, -2], 'x': 1.5, 's': 'hé'}, protocol=2)` from CPython 3.11.
    const P2_DICT: &[u8] = b"\x80\x02}q\x00(X\x06\x00\x00\x00labelsq\x01]q\x02(K\x01M,\x01J\xfe\xff\xff\xffeX\x01\x00\x00\x00xq\x03G?\xf8\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00sq\x04X\x03\x00\x00\x00h\xc3\xa9q\x05u.";

    /// Same object at protocol 4 (framed, MEMOIZE, SHORT_BINUNICODE).
    const P4_DICT: &[u8] = b"\x80\x04\x953\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x06labels\x94]\x94(K\x01M,\x01J\xfe\xff\xff\xffe\x8c\x01x\x94G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x01s\x94\x8c\x03h\xc3\xa9\x94u.";

    #[test]
    fn cpython_dicts_at_protocols_2_and_4() {
        for p in [P2_DICT, P4_DICT] {
            let v = parse(p).unwrap();
            assert_eq!(v.get("labels").unwrap().as_int_vec().unwrap(), vec![1, 300, -2]);
            assert!(matches!(v.get("x"), Some(Value::Float(f)) if f == 1.5));
            assert_eq!(v.get("s").unwrap().as_str_like(), Some("hé"));
            assert!(v.get("nope").is_none());
        }
    }

    // Made by CPython 3.11 from stand-ins for `numpy.dtype` and `numpy.ndarray` whose
    // `__reduce__` returns exactly what NumPy's does (numpy/core/src/multiarray/methods.c
    // `array_reduce`, descriptor.c `arraydescr_reduce`), pickling
    // `{'data': uint8 array [[0, 1, 2], [250, 255, 7]], 'labels': [1, 121, 5]}`.
    const NP_P2: &[u8] = b"\x80\x02}q\x00(X\x04\x00\x00\x00dataq\x01cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85q\x04c_codecs\nencode\nq\x05X\x01\x00\x00\x00bq\x06X\x06\x00\x00\x00latin1q\x07\x86q\x08Rq\t\x87q\nRq\x0b(K\x01K\x02K\x03\x86q\x0ccnumpy\ndtype\nq\rX\x02\x00\x00\x00u1q\x0e\x89\x88\x87q\x0fRq\x10(K\x03X\x01\x00\x00\x00|q\x11NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x12b\x89h\x05X\x08\x00\x00\x00\x00\x01\x02\xc3\xba\xc3\xbf\x07q\x13h\x07\x86q\x14Rq\x15tq\x16bX\x06\x00\x00\x00labelsq\x17]q\x18(K\x01KyK\x05eu.";
    const NP_P4: &[u8] = b"\x80\x04\x95\xae\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x04data\x94\x8c\x15numpy.core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01K\x02K\x03\x86\x94h\x05\x8c\x05dtype\x94\x93\x94\x8c\x02u1\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01|\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89C\x06\x00\x01\x02\xfa\xff\x07\x94t\x94b\x8c\x06labels\x94]\x94(K\x01KyK\x05eu.";

    #[test]
    fn numpy_arrays_at_protocols_2_and_4() {
        for p in [NP_P2, NP_P4] {
            let v = parse(p).unwrap();
            let a = v.get("data").unwrap().as_ndarray().unwrap();
            assert_eq!(a.shape, vec![2, 3]);
            assert_eq!(a.dtype, "u1");
            assert_eq!(*a.data, vec![0, 1, 2, 250, 255, 7]);
            assert_eq!(v.get("labels").unwrap().as_int_vec().unwrap(), vec![1, 121, 5]);
        }
    }

    // CPython 3.11, `pickle.dumps(OrderedDict([('p', np.float64(0.129306)), (('cifar10', 777),
    // {3: 1.5})]), protocol)` with NumPy's float64 reduce reproduced by stand-ins (see above).
    const OD_P2: &[u8] = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00pq\x02cnumpy.core.multiarray\nscalar\nq\x03cnumpy\ndtype\nq\x04X\x02\x00\x00\x00f8q\x05\x89\x88\x87q\x06Rq\x07(K\x03X\x01\x00\x00\x00<q\x08NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\tbc_codecs\nencode\nq\nX\x0c\x00\x00\x00\x0b\xc2\x9a\xc2\x96X\x19\xc2\x8d\xc3\x80?q\x0bX\x06\x00\x00\x00latin1q\x0c\x86q\rRq\x0e\x86q\x0fRq\x10X\x07\x00\x00\x00cifar10q\x11M\t\x03\x86q\x12}q\x13K\x03G?\xf8\x00\x00\x00\x00\x00\x00su.";
    const OD_P4: &[u8] = b"\x80\x04\x95\xad\x00\x00\x00\x00\x00\x00\x00\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94(\x8c\x01p\x94\x8c\x15numpy.core.multiarray\x94\x8c\x06scalar\x94\x93\x94\x8c\x05numpy\x94\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94bC\x08\x0b\x9a\x96X\x19\x8d\xc0?\x94\x86\x94R\x94\x8c\x07cifar10\x94M\t\x03\x86\x94}\x94K\x03G?\xf8\x00\x00\x00\x00\x00\x00su.";

    #[test]
    fn ordered_dicts_numpy_scalars_and_tuple_keys() {
        for p in [OD_P2, OD_P4] {
            let v = parse(p).unwrap();
            let e = v.entries().expect("an OrderedDict reads as a dict");
            assert_eq!(e.len(), 2);
            assert_eq!(v.get("p").unwrap().as_f64(), Some(0.129306));
            let key = e[1].0.items().unwrap();
            assert_eq!((key[0].as_str_like(), key[1].as_i64()), (Some("cifar10"), Some(777)));
            let inner = e[1].1.entries().unwrap();
            assert_eq!((inner[0].0.as_i64(), inner[0].1.as_f64()), (Some(3), Some(1.5)));
        }
    }

    #[test]
    fn memo_indices_beyond_two_to_the_24_are_accepted() {
        // LONG_BINPUT at 2^24 + 1 of an int, LONG_BINGET it back, in a pickle padded past that.
        let idx = (1u32 << 24) + 1;
        let mut b = b"\x80\x02K\x07r".to_vec();
        b.extend(idx.to_le_bytes());
        b.push(b'0'); // POP
        b.push(b'j');
        b.extend(idx.to_le_bytes());
        b.push(b'.');
        let mut padded = b.clone();
        padded.resize(idx as usize + 64, b'.');
        assert_eq!(parse(&padded).unwrap().as_i64(), Some(7));
        let e = parse(&b).unwrap_err();
        assert!(e.contains("beyond the pickle"), "{e}");
    }

    #[test]
    fn pickles_back_to_back_read_one_at_a_time() {
        // `pickle.dumps(1001, protocol=2) + pickle.dumps([], protocol=2)`, as torch.save's
        // legacy format writes its header.
        let b: &[u8] = b"\x80\x02M\xe9\x03.\x80\x02]q\x00.";
        let (v, used) = parse_prefix(b).unwrap();
        assert_eq!((v.as_i64(), used), (Some(1001), 6));
        let (v, used) = parse_prefix(&b[used..]).unwrap();
        assert_eq!((v.items().map(|i| i.len()), used), (Some(0), 6));
        let e = parse(b"\x80\x02Q.").unwrap_err();
        assert!(e.contains("persistent id"), "{e}");
    }

    #[test]
    fn truncated_and_garbage_are_errors() {
        for cut in [1, 10, P2_DICT.len() - 1] {
            assert!(parse(&P2_DICT[..cut]).is_err(), "cut at {cut}");
        }
        let e = parse(b"\x80\x02\xff").unwrap_err();
        assert!(e.contains("unknown pickle opcode 0xff"), "{e}");
    }

    #[test]
    fn big_endian_and_signed_ndarray_elements() {
        let a = NdArray {
            shape: vec![2],
            dtype: "i2".into(),
            big_endian: true,
            data: Rc::new(vec![0xff, 0xfe, 0x01, 0x00]),
        };
        assert_eq!(a.to_i64().unwrap(), vec![-2, 256]);
        let a = NdArray {
            shape: vec![2],
            dtype: "u2".into(),
            big_endian: false,
            data: Rc::new(vec![0xff, 0xfe, 0x01, 0x00]),
        };
        assert_eq!(a.to_i64().unwrap(), vec![0xfeff, 1]);
    }
}
