//! Property tests: every parser of user input returns `Ok` or `Err` and never panics, on many
//! thousands of random strings and bytes and of random mutations of valid specs, CSV files and
//! `.npy` files. The inputs come from the crate's counter-based generator, so a failure names an
//! input that reproduces on every run.

use landscape::npy;
use landscape::rng::{Stream, word};
use landscape::spec::data::{self, DataSource, Teacher};
use landscape::spec::model::{Activation, MAX_PARAMETERS, Model};
use landscape::spec::slice::{self, MAX_AXES};
use landscape::spec::walk::{Init, WalkSettings};
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Inputs per parser and kind (random or mutated).
const CASES: u64 = 3000;

/// Characters that matter to the parsers, and some that should never appear.
const ALPHABET: &[char] = &[
    '0', '1', '2', '3', '9', '-', '+', '.', ',', ':', '=', '[', ']', 'e', 'E', 'n', 'a', 'i', 'f',
    'w', 'b', 'x', 'y', ' ', '\t', '\n', '\r', ';', '/', 'é', '∞', '\0', '\u{feff}', '"', '\'',
];

/// Tokens that often break number and list parsing.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1.5",
    "1e400",
    "1e39",
    "-1e308",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "99999999999999999999",
    "18446744073709551616",
    "4097",
    "4294967296",
    "16777217",
    "",
    ",",
    "=",
    ":",
    "::",
    "[",
    "]",
    "[0,0]",
    "-",
    "teacher:",
    "point:",
    "csv:",
    "random:",
    "toward:",
    "dir:",
    "n=",
    "seed=",
    "width=",
    "noise=",
    "x=",
    "y=",
    ".npy",
];

/// A deterministic stream of random choices.
struct Gen {
    seed: u64,
    i: u64,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen { seed, i: 0 }
    }

    fn next(&mut self) -> u64 {
        self.i += 1;
        word(self.seed, Stream::Start, self.i)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// Up to `max` random bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A random string: lossy UTF-8 of random bytes, or characters from the alphabet and tokens.
    fn string(&mut self) -> String {
        if self.below(3) == 0 {
            return String::from_utf8_lossy(&self.bytes(40)).into_owned();
        }
        let n = self.below(12);
        let mut s = String::new();
        for _ in 0..n {
            if self.below(2) == 0 {
                s.push(*self.pick(ALPHABET));
            } else {
                let token = *self.pick(TOKENS);
                s.push_str(token);
            }
        }
        s
    }

    /// `s` with one to four random edits: deletions, insertions, replacements, truncation,
    /// duplication, swaps, and numbers replaced by troublesome tokens.
    fn mutate(&mut self, s: &str) -> String {
        let mut c: Vec<char> = s.chars().collect();
        for _ in 0..1 + self.below(4) {
            let at = self.below(c.len() + 1);
            match self.below(8) {
                0 if at < c.len() => {
                    c.remove(at);
                }
                1 => c.insert(at, *self.pick(ALPHABET)),
                2 => {
                    let t: Vec<char> = self.pick(TOKENS).chars().collect();
                    c.splice(at..at, t);
                }
                3 if at < c.len() => c[at] = *self.pick(ALPHABET),
                4 => c.truncate(at),
                5 => {
                    let end = (at + self.below(8)).min(c.len());
                    let copy: Vec<char> = c[at..end].to_vec();
                    c.splice(at..at, copy);
                }
                6 if c.len() > 1 => {
                    let (a, b) = (at.min(c.len() - 1), self.below(c.len()));
                    c.swap(a, b);
                }
                _ => {
                    // Replace the run of digits at or after `at` by a token.
                    if let Some(start) = (at..c.len()).find(|&k| c[k].is_ascii_digit()) {
                        let end = (start..c.len())
                            .find(|&k| !c[k].is_ascii_digit())
                            .unwrap_or(c.len());
                        let t: Vec<char> = self.pick(TOKENS).chars().collect();
                        c.splice(start..end, t);
                    }
                }
            }
        }
        c.into_iter().collect()
    }

    /// `b` with one to four random byte edits.
    fn mutate_bytes(&mut self, b: &[u8]) -> Vec<u8> {
        let mut b = b.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(b.len() + 1);
            match self.below(5) {
                0 if at < b.len() => b[at] ^= 1 << self.below(8),
                1 if at < b.len() => b[at] = self.next() as u8,
                2 => b.truncate(at),
                3 => {
                    let extra = self.bytes(8);
                    b.splice(at..at, extra);
                }
                _ if at < b.len() => {
                    b.remove(at);
                }
                _ => {}
            }
        }
        b
    }

    /// A random `f64`: any bit pattern, or a special value.
    fn float(&mut self) -> f64 {
        const SPECIAL: [f64; 10] = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.999_999,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        if self.below(2) == 0 {
            *self.pick(&SPECIAL)
        } else {
            f64::from_bits(self.next())
        }
    }
}

/// Runs `f` on every input, collecting those on which it panics, and asserts there are none.
fn never_panics<I: Debug>(what: &str, inputs: impl IntoIterator<Item = I>, f: impl Fn(&I)) {
    let mut panics = Vec::new();
    let mut count = 0;
    for input in inputs {
        count += 1;
        if catch_unwind(AssertUnwindSafe(|| f(&input))).is_err() {
            panics.push(format!("{input:?}"));
        }
    }
    assert!(
        panics.is_empty(),
        "{what} panicked on {} of {count} inputs, e.g.:\n{}",
        panics.len(),
        panics[..panics.len().min(10)].join("\n")
    );
}

/// Random strings, then mutations of the valid `seeds`, `CASES` of each.
fn spec_inputs(seed: u64, seeds: &[String]) -> Vec<String> {
    let mut g = Gen::new(seed);
    let mut out: Vec<String> = (0..CASES).map(|_| g.string()).collect();
    out.extend(seeds.iter().cloned());
    for _ in 0..CASES {
        let s = g.pick(seeds).clone();
        out.push(g.mutate(&s));
    }
    out
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// The models the parsers are exercised against.
fn models() -> Vec<Model> {
    [
        ("2-3-1", Activation::Tanh, true),
        ("1-1-1", Activation::Linear, false),
        ("2-1", Activation::Tanh, true),
        ("2-4-4-1", Activation::Relu, true),
    ]
    .into_iter()
    .map(|(w, act, bias)| Model::new(w, act, Activation::Linear, bias).expect("valid model"))
    .collect()
}

/// A scratch directory with valid vector files for the slice parsers.
fn vectors() -> PathBuf {
    let dir = crate::common::scratch("parsers", "vectors");
    std::fs::create_dir_all(&dir).expect("dir");
    for p in [2usize, 13, 14, 33] {
        let v: Vec<f64> = (0..p).map(|i| 0.5 + i as f64).collect();
        npy::write(&dir.join(format!("v{p}.npy")), &[p], &v).expect("vector");
    }
    dir
}

#[test]
fn model_and_activation_parsers_never_panic() {
    let seeds = strings(&["2-3-1", "1-1-1", "2-4-4-1", "2-1", "3-5-2", " 2 - 3 - 1 "]);
    let acts = Activation::ALL;
    never_panics("Model::new", spec_inputs(1, &seeds), |s| {
        for (i, &act) in acts.iter().enumerate() {
            if let Ok(m) = Model::new(s, act, acts[(i + 2) % acts.len()], i % 2 == 0) {
                assert!(m.parameter_count() <= MAX_PARAMETERS, "{s:?}");
                assert!(m.widths.len() >= 2 && m.widths.iter().all(|&w| w > 0));
            }
        }
    });
    let names: Vec<String> = acts.iter().map(|a| a.name().to_string()).collect();
    never_panics("Activation::from_str", spec_inputs(2, &names), |s| {
        let _ = s.parse::<Activation>();
    });
    let model = &models()[3];
    let params = model.parameter_names();
    never_panics("Model::parameter_index", spec_inputs(3, &params), |s| {
        if let Ok(p) = model.parameter_index(s, "--axis") {
            assert!(p < model.parameter_count());
        }
    });
}

#[test]
fn data_spec_parser_never_panics() {
    let seeds = strings(&[
        "xor",
        "xor:pm",
        "teacher:n=256,seed=7,width=3",
        "teacher:n=16,seed=0,noise=0.1",
        "teacher:n=5,seed=1",
        "point:x=1,y=1",
        "point:x=1,2,y=3",
        "point:x=0.5,-2,y=1e3",
    ]);
    let models = models();
    let inputs = spec_inputs(4, &seeds);
    never_panics("DataSource::parse", inputs, |s| {
        // A mutation could name a CSV file anywhere; CSV contents are tested on their own.
        if s.starts_with("csv:") {
            return;
        }
        for m in &models {
            if let Ok(src) = DataSource::parse(s, m) {
                let d = &src.data;
                assert!(!d.is_empty() && d.x().iter().chain(d.y()).all(|v| v.is_finite()));
            }
        }
    });
}

#[test]
fn origin_axis_and_slice_parsers_never_panic() {
    let dir = vectors();
    let d = dir.display();
    let models = models();
    let teacher_of = |m: &Model| Teacher {
        model: m.clone(),
        theta: vec![0.25; m.parameter_count()],
    };
    let origin_seeds: Vec<String> = ["zeros", "teacher", "random:3"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("{d}/v13.npy"), format!("{d}/v2.npy")])
        .collect();
    never_panics(
        "parse_origin",
        spec_inputs(5, &origin_seeds),
        |s: &String| {
            for m in &models {
                let t = teacher_of(m);
                for teacher in [None, Some(&t)] {
                    if let Ok(o) = slice::parse_origin(s, m, teacher) {
                        assert_eq!(o.len(), m.parameter_count());
                    }
                }
            }
        },
    );
    let axis_seeds: Vec<String> = [
        "w1[0,1]=-3:3:512",
        "w1[0,0]=-1:1:5",
        "b2[0]=0:4:5",
        "b1[1]=-1:1:3",
        "dir:1,1=-1.5:1.5:301",
        "random:7=-1:1:256",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("toward:{d}/v13.npy=0:1:101"),
        format!("dir:{d}/v13.npy=-1:1:5"),
        format!("toward:{d}/v2.npy=0:1:11"),
    ])
    .collect();
    let axes = spec_inputs(6, &axis_seeds);
    never_panics("parse_axis", &axes, |s: &&String| {
        for m in &models {
            let origin = vec![0.5; m.parameter_count()];
            if let Ok(a) = slice::parse_axis(s, m, &origin) {
                assert!(a.lo < a.hi && a.n >= 2, "{s:?}");
                assert!(a.value(0).is_finite() && a.value(a.n - 1).is_finite());
            }
        }
    });
    // Whole slices: one to five axes, an origin or not, a plane or not.
    let mut g = Gen::new(7);
    let slices: Vec<(Option<String>, Vec<String>, Option<String>)> = (0..CASES)
        .map(|_| {
            let origin = (g.below(2) == 0).then(|| g.pick(&origin_seeds).clone());
            let count = g.below(MAX_AXES + 2);
            let picked: Vec<String> = (0..count).map(|_| g.pick(&axes).to_string()).collect();
            let plane = (g.below(8) == 0).then(|| {
                let files = format!("{d}/v13.npy,{d}/v14.npy,{d}/v33.npy");
                g.mutate(&files)
            });
            (origin, picked, plane)
        })
        .collect();
    never_panics("build_slice", slices, |(origin, axes, plane)| {
        for m in &models {
            let t = teacher_of(m);
            if let Ok(s) =
                slice::build_slice(m, Some(&t), origin.as_deref(), axes, plane.as_deref())
            {
                assert!((1..=MAX_AXES).contains(&s.axes.len()));
                assert_eq!(s.point(s.len() - 1).len(), m.parameter_count());
            }
        }
    });
}

#[test]
fn walker_settings_parsers_never_panic() {
    let seeds = strings(&[
        "normal:1",
        "uniform:1",
        "xavier",
        "normal:0.5",
        "uniform:2e-3",
    ]);
    let model = &models()[0];
    never_panics("Init::parse", spec_inputs(8, &seeds), |s| {
        if let Ok(init) = Init::parse(s) {
            assert!(
                init.start(model, 3, 5).iter().all(|v| v.is_finite()),
                "{s:?}"
            );
        }
    });
    let mut g = Gen::new(9);
    let settings: Vec<WalkSettings> = (0..CASES)
        .map(|_| WalkSettings {
            lr: g.float(),
            momentum: g.float(),
            steps: *g.pick(&[0, 1, 1000, u32::MAX]),
            tol: g.float(),
            diverge: g.float(),
        })
        .collect();
    never_panics("WalkSettings::validate", settings, |s| {
        if s.validate().is_ok() {
            assert!(s.lr.is_finite() && s.lr > 0.0 && (0.0..1.0).contains(&s.momentum));
            // What the backends receive is as valid in float32.
            assert!((s.lr as f32) > 0.0 && (s.lr as f32).is_finite(), "{s:?}");
            assert!((0.0..1.0).contains(&(s.momentum as f32)), "{s:?}");
        }
    });
}

#[test]
fn csv_reader_never_panics() {
    let dir = crate::common::scratch("parsers", "csv");
    std::fs::create_dir_all(&dir).expect("dir");
    let seeds = strings(&[
        "x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n",
        "1,2,3\n4,5,6\n",
        "a,b,c,d\n1,2,3,4\n5,6,7,8\n",
        "\u{feff}1, 2 ,3\r\n4,5,6\r\n",
        "0.5,-1e-3,2E2\n\n7,8,9\n",
    ]);
    let mut g = Gen::new(10);
    let mut files: Vec<Vec<u8>> = (0..CASES / 2).map(|_| g.bytes(64)).collect();
    files.extend(spec_inputs(11, &seeds).into_iter().map(String::into_bytes));
    let path = dir.join("data.csv");
    let model = &models()[0];
    let spec = format!("csv:{}", path.display());
    never_panics("data::parse_csv", files.iter().enumerate(), |(i, bytes)| {
        let text = String::from_utf8_lossy(bytes);
        for outputs in [1, 2] {
            if let Ok(d) = data::parse_csv(&path, &text, outputs) {
                assert!(!d.is_empty() && d.outputs() == outputs);
            }
        }
        // Through a real file as well, for some: writing files is slow on some disks.
        if i % 50 == 0 {
            std::fs::write(&path, bytes).expect("write csv");
            let _ = DataSource::parse(&spec, model);
        }
    });
}

/// A valid `.npy` file's bytes.
fn npy_bytes<T: npy::NpyElement>(dir: &Path, shape: &[usize], data: &[T]) -> Vec<u8> {
    let path = dir.join("seed.npy");
    npy::write(&path, shape, data).expect("write npy");
    std::fs::read(&path).expect("read npy")
}

#[test]
fn npy_readers_never_panic() {
    let dir = crate::common::scratch("parsers", "npy");
    std::fs::create_dir_all(&dir).expect("dir");
    let v13: Vec<f64> = (0..13).map(f64::from).collect();
    let seeds = vec![
        npy_bytes(&dir, &[13], &v13),
        npy_bytes(
            &dir,
            &[13],
            &v13.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        ),
        npy_bytes(&dir, &[1, 13], &v13),
        npy_bytes(&dir, &[3, 2, 2], &[1.5f32; 12]),
        npy_bytes(&dir, &[5], &[0u8, 1, 2, 3, 1]),
        npy_bytes(&dir, &[0], &[0.0f64; 0]),
        npy_bytes(&dir, &[4], &[7i32; 4]),
    ];
    let mut g = Gen::new(12);
    let mut files: Vec<Vec<u8>> = (0..CASES).map(|_| g.bytes(200)).collect();
    for _ in 0..3 * CASES {
        let seed = g.pick(&seeds).clone();
        files.push(if g.below(2) == 0 {
            g.mutate_bytes(&seed)
        } else {
            // Edit the header's text, where the shape, dtype and order are.
            let text = String::from_utf8_lossy(&seed[10..]).into_owned();
            let mut b = seed[..10].to_vec();
            b.extend(g.mutate(&text).into_bytes());
            b
        });
    }
    let path = Path::new("fuzz.npy");
    never_panics("npy readers", files, |bytes| {
        if let Ok((v, shape)) = npy::parse_f64(path, bytes) {
            assert_eq!(v.len(), shape.iter().product::<usize>());
        }
        if let Ok((v, shape)) = npy::parse_u8(path, bytes) {
            assert_eq!(v.len(), shape.iter().product::<usize>());
        }
        if let Ok(v) = npy::parse_vector(path, bytes, 13, "--origin") {
            assert_eq!(v.len(), 13);
        }
    });
}
