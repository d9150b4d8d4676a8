//! The closed-loop challenges in the browser: a pulsing beat to tap along with and a moving
//! target to follow, drawn on a canvas with `requestAnimationFrame`. Stimulus times are the times
//! of the frames that showed them; answers keep their `event.timeStamp`.
//!
//! The rhythm task runs on the edge's beats when the edge sends them: each flashes as it arrives
//! and each tap is passed on the moment it happens, so the edge times both on its own clock. The
//! page keeps the time itself only when no beat comes.
//!
//! What is drawn is also written to the canvas's `data-` attributes (the last beat's frame time,
//! the target's recent positions), so assistive tools and scripted test participants can see the
//! same state a person sees.

use std::cell::RefCell;
use std::rc::Rc;

use onsite_core::estimators::TrackingRun;
use onsite_core::estimators::{Answer, FrameTiming, Outcome, Point, Rhythm};
use onsite_core::stats::quantile;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast as _;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, KeyboardEvent, PointerEvent};

use crate::capture::to_us;
use crate::listen::Listeners;
use crate::ProbeError;

/// How the rhythm task runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RhythmConfig {
    pub period_ms: f64,
    pub beats: u32,
    /// The unannounced phase shift: from this beat on, beats come `shift_ms` later.
    pub shift_at_beat: u32,
    pub shift_ms: f64,
    /// Pulse by brightness instead of size, for people who prefer reduced motion.
    pub reduced_motion: bool,
}

impl Default for RhythmConfig {
    fn default() -> RhythmConfig {
        // 24 beats at 100 per minute: 14.4 s, inside the 20 s budget.
        RhythmConfig {
            period_ms: 600.0,
            beats: 24,
            shift_at_beat: 12,
            shift_ms: 150.0,
            reduced_motion: false,
        }
    }
}

/// How the tracking task runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackingConfig {
    pub duration_ms: f64,
    /// Multiplies the target's speed (0.5 for reduced motion).
    pub speed: f64,
}

impl Default for TrackingConfig {
    fn default() -> TrackingConfig {
        TrackingConfig { duration_ms: 15_000.0, speed: 1.0 }
    }
}

/// Whether the person asked the system for reduced motion.
pub fn prefers_reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-reduced-motion: reduce)").ok().flatten())
        .is_some_and(|query| query.matches())
}

type FrameLoop = Rc<RefCell<Option<Closure<dyn FnMut(f64)>>>>;
type Done<T> = Option<Box<dyn FnOnce(Outcome<T>, Option<FrameTiming>)>>;

/// Stops a task's frame loop and reports it as skipped: not measured, never remote.
fn skip_task<T>(done: Done<T>, frame: &FrameLoop) {
    frame.borrow_mut().take();
    if let Some(done) = done {
        done(Outcome::Skipped, None);
    }
}

fn request_frame(frame: &FrameLoop) {
    if let (Some(window), Some(callback)) = (web_sys::window(), frame.borrow().as_ref()) {
        let _ = window.request_animation_frame(callback.as_ref().unchecked_ref());
    }
}

fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, ProbeError> {
    canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
        .ok_or(ProbeError::Unsupported("a 2D canvas"))
}

/// The page clock now (ms), if the browser has `performance`.
fn performance_now_ms() -> Option<f64> {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now())
}

/// Frame intervals and input delays seen while a task ran.
#[derive(Default)]
struct Timing {
    last_frame_ms: Option<f64>,
    frame_gaps_us: Vec<i64>,
    input_delays_us: Vec<i64>,
}

impl Timing {
    fn frame(&mut self, now_ms: f64) {
        if let Some(last) = self.last_frame_ms {
            self.frame_gaps_us.push(to_us(now_ms - last));
        }
        self.last_frame_ms = Some(now_ms);
    }

    /// Records how long an input took to reach the page; `now_ms` is read by the caller before
    /// it borrows the task's state, so no borrow is held across a call into JavaScript.
    fn input(&mut self, event_ms: f64, now_ms: Option<f64>) {
        if let Some(now_ms) = now_ms {
            self.input_delays_us.push(to_us(now_ms - event_ms).max(0));
        }
    }

    fn summary(&mut self) -> Option<FrameTiming> {
        self.frame_gaps_us.sort_unstable();
        self.input_delays_us.sort_unstable();
        Some(FrameTiming {
            frame_interval_us: quantile(&self.frame_gaps_us, 1, 2)?,
            input_delay_us: quantile(&self.input_delays_us, 1, 2).unwrap_or(0),
        })
    }
}

/// Beats of a rhythm task the edge runs, as they arrive.
struct EdgeBeats {
    /// When each beat arrived (page clock, ms).
    arrived_ms: Vec<f64>,
    of: u32,
    /// When the task started waiting for them (ms); with no beat by [`EDGE_BEAT_WAIT_MS`], the
    /// page runs the schedule itself.
    waiting_since_ms: Option<f64>,
}

/// How long a task the edge runs waits for its first beat before the page runs it (ms): the
/// edge sends it a second after Start.
const EDGE_BEAT_WAIT_MS: f64 = 2_500.0;
/// How fast a beat the edge sent fades (ms): it flashes when it arrives, since the page cannot
/// know the next one in advance to swell towards it.
const FLASH_FADE_MS: f64 = 300.0;

struct RhythmState {
    config: RhythmConfig,
    /// Beats from the edge, when it runs the task; `None` when the page keeps the time.
    edge: Option<EdgeBeats>,
    /// Where each tap goes the moment it happens (the edge), with its time (µs).
    on_tap: Option<Box<dyn Fn(i64)>>,
    start_ms: Option<f64>,
    beats_at_us: Vec<i64>,
    taps_at_us: Vec<i64>,
    answer: Answer,
    timing: Timing,
    done: Done<Rhythm>,
}

/// A running rhythm task; dropping it stops it without a result.
pub struct RhythmTask {
    state: Rc<RefCell<RhythmState>>,
    frame: FrameLoop,
    _listeners: Vec<Listeners>,
}

impl RhythmTask {
    /// Starts the task on `canvas` on the page's own schedule; `done` receives the result once
    /// the last beat has passed.
    pub fn start(
        canvas: &HtmlCanvasElement,
        config: RhythmConfig,
        done: impl FnOnce(Outcome<Rhythm>, Option<FrameTiming>) + 'static,
    ) -> Result<RhythmTask, ProbeError> {
        RhythmTask::run(canvas, config, None, None, Box::new(done))
    }

    /// Starts the task with the beats the edge sends ([`RhythmTask::beat`]): each is drawn as it
    /// arrives, and each tap goes to `on_tap` (with its time, µs) the moment it happens. With no
    /// beat within a few seconds, the page keeps the time itself.
    pub fn start_with_edge(
        canvas: &HtmlCanvasElement,
        config: RhythmConfig,
        on_tap: impl Fn(i64) + 'static,
        done: impl FnOnce(Outcome<Rhythm>, Option<FrameTiming>) + 'static,
    ) -> Result<RhythmTask, ProbeError> {
        let edge = EdgeBeats { arrived_ms: Vec::new(), of: config.beats, waiting_since_ms: None };
        RhythmTask::run(canvas, config, Some(edge), Some(Box::new(on_tap)), Box::new(done))
    }

    /// Beat `n` of `of` arrived from the edge: it is drawn at the next frame. Out-of-order or
    /// repeated beats are ignored.
    pub fn beat(&self, n: u32, of: u32) {
        let now_ms = performance_now_ms().unwrap_or(0.0);
        let mut s = self.state.borrow_mut();
        if let Some(edge) = s.edge.as_mut() {
            if usize::try_from(n).is_ok_and(|n| n == edge.arrived_ms.len()) {
                edge.arrived_ms.push(now_ms);
                edge.of = of;
            }
        }
    }

    fn run(
        canvas: &HtmlCanvasElement,
        config: RhythmConfig,
        edge: Option<EdgeBeats>,
        on_tap: Option<Box<dyn Fn(i64)>>,
        done: Box<dyn FnOnce(Outcome<Rhythm>, Option<FrameTiming>)>,
    ) -> Result<RhythmTask, ProbeError> {
        let context = context(canvas)?;
        let state = Rc::new(RefCell::new(RhythmState {
            config,
            edge,
            on_tap,
            start_ms: None,
            beats_at_us: Vec::new(),
            taps_at_us: Vec::new(),
            answer: Answer::Key,
            timing: Timing::default(),
            done: Some(done),
        }));
        let frame: FrameLoop = Rc::new(RefCell::new(None));
        let (width, height) = (f64::from(canvas.width()), f64::from(canvas.height()));
        let (loop_state, loop_frame, drawn) = (state.clone(), frame.clone(), canvas.clone());
        *frame.borrow_mut() = Some(Closure::new(move |now_ms: f64| {
            // State changes happen under the borrow; drawing and attributes (calls into
            // JavaScript, which may throw) happen after it is released.
            let (level, reduced_motion, new_beat, finished) = {
                let mut s = loop_state.borrow_mut();
                s.timing.frame(now_ms);
                if let Some(step) = edge_frame(&mut s, now_ms) {
                    step
                } else {
                    // The first beat comes a second after the task starts.
                    let start_ms = *s.start_ms.get_or_insert(now_ms + 1000.0);
                    let c = s.config;
                    let beat_time = |k: u32| {
                        start_ms
                            + f64::from(k) * c.period_ms
                            + if k >= c.shift_at_beat { c.shift_ms } else { 0.0 }
                    };
                    let shown = u32::try_from(s.beats_at_us.len()).unwrap_or(u32::MAX);
                    // The first frame at or after a beat's time is the one that shows its peak.
                    let new_beat = (shown < c.beats && now_ms >= beat_time(shown)).then(|| {
                        s.beats_at_us.push(to_us(now_ms));
                        shown
                    });
                    // The pulse: nearest beat's closeness, 1 at the peak and falling off over ~100 ms.
                    let nearest = (0..c.beats)
                        .map(|k| (now_ms - beat_time(k)).abs())
                        .fold(f64::INFINITY, f64::min);
                    // The pulse's shape decides only what is drawn, not any measurement.
                    let level = (-(nearest / 90.0).powi(2)).exp();
                    let finished = (shown >= c.beats
                        && now_ms >= beat_time(c.beats - 1) + c.period_ms)
                        .then(|| {
                            let timing = s.timing.summary();
                            let rhythm = Rhythm {
                                beats_at_us: std::mem::take(&mut s.beats_at_us),
                                shift_at_beat: Some(c.shift_at_beat),
                                taps_at_us: std::mem::take(&mut s.taps_at_us),
                                answer: s.answer,
                            };
                            (s.done.take(), rhythm, timing)
                        });
                    (level, c.reduced_motion, new_beat, finished)
                }
            };
            if let Some(beat) = new_beat {
                let _ = drawn.set_attribute("data-beat", &beat.to_string());
                let _ = drawn.set_attribute("data-beat-at-ms", &format!("{now_ms:.3}"));
            }
            draw_pulse(&context, width, height, level, reduced_motion);
            if let Some((done, rhythm, timing)) = finished {
                if let Some(done) = done {
                    done(Outcome::Done(rhythm), timing);
                }
                return;
            }
            request_frame(&loop_frame);
        }));
        request_frame(&frame);

        let mut listeners = Vec::new();
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            let mut keys = Listeners::new(&document);
            let tapped = state.clone();
            keys.add(
                "keydown",
                Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                    let Some(event) = event.dyn_ref::<KeyboardEvent>() else { return };
                    if event.code() != "Space" || event.repeat() {
                        return;
                    }
                    event.prevent_default();
                    let (event_ms, now_ms) = (event.time_stamp(), performance_now_ms());
                    let mut s = tapped.borrow_mut();
                    s.timing.input(event_ms, now_ms);
                    s.taps_at_us.push(to_us(event_ms));
                    s.answer = Answer::Key;
                    let on_tap = s.on_tap.take();
                    drop(s);
                    send_tap(&tapped, on_tap, event_ms);
                }),
            );
            listeners.push(keys);
        }
        let mut clicks = Listeners::new(canvas);
        let tapped = state.clone();
        clicks.add(
            "pointerdown",
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                let Some(event) = event.dyn_ref::<PointerEvent>() else { return };
                let (event_ms, now_ms) = (event.time_stamp(), performance_now_ms());
                let mut s = tapped.borrow_mut();
                s.timing.input(event_ms, now_ms);
                s.taps_at_us.push(to_us(event_ms));
                s.answer = Answer::Pointer;
                let on_tap = s.on_tap.take();
                drop(s);
                send_tap(&tapped, on_tap, event_ms);
            }),
        );
        listeners.push(clicks);
        Ok(RhythmTask { state, frame, _listeners: listeners })
    }

    /// Ends the task now and reports it as skipped: not measured, never remote.
    pub fn skip(&self) {
        let done = self.state.borrow_mut().done.take();
        skip_task(done, &self.frame);
    }
}

impl Drop for RhythmTask {
    fn drop(&mut self) {
        // Breaks the frame closure's reference to itself.
        self.frame.borrow_mut().take();
    }
}

/// Passes a tap on to where it goes, with no borrow held while it is sent, then puts the
/// callback back.
fn send_tap(state: &Rc<RefCell<RhythmState>>, on_tap: Option<Box<dyn Fn(i64)>>, event_ms: f64) {
    if let Some(on_tap) = on_tap {
        on_tap(to_us(event_ms));
        state.borrow_mut().on_tap = Some(on_tap);
    }
}

/// One frame of a task the edge runs: `(level, reduced motion, beat shown now, result)`, or
/// `None` when the page keeps the time (no edge, or no beat came in time, after which it never
/// comes back).
#[allow(clippy::type_complexity, reason = "the frame closure's own step, named where it is used")]
fn edge_frame(
    s: &mut RhythmState,
    now_ms: f64,
) -> Option<(f64, bool, Option<u32>, Option<(Done<Rhythm>, Rhythm, Option<FrameTiming>)>)> {
    let c = s.config;
    let edge = s.edge.as_mut()?;
    let waiting_since_ms = *edge.waiting_since_ms.get_or_insert(now_ms);
    if edge.arrived_ms.is_empty() && now_ms - waiting_since_ms > EDGE_BEAT_WAIT_MS {
        // The edge did not answer: the page runs the schedule from now, as without an edge.
        s.edge = None;
        s.on_tap = None;
        return None;
    }
    let shown = u32::try_from(s.beats_at_us.len()).unwrap_or(u32::MAX);
    let arrived = u32::try_from(edge.arrived_ms.len()).unwrap_or(u32::MAX);
    // The first frame after a beat arrives is the one that shows it.
    let new_beat = (shown < arrived).then(|| {
        s.beats_at_us.push(to_us(now_ms));
        arrived - 1
    });
    let since_ms =
        s.beats_at_us.last().map_or(f64::INFINITY, |at_us| now_ms - *at_us as f64 / 1000.0);
    let level = (-(since_ms.max(0.0) / FLASH_FADE_MS)).exp();
    let finished = (arrived >= edge.of && since_ms >= c.period_ms).then(|| {
        // The page learns where the phase shifted only from the gaps between beats.
        let shift_at_beat = s
            .beats_at_us
            .windows(2)
            .position(|w| (w[1] - w[0]) as f64 > 1.15 * c.period_ms * 1000.0)
            .and_then(|i| u32::try_from(i + 1).ok());
        let timing = s.timing.summary();
        let rhythm = Rhythm {
            beats_at_us: std::mem::take(&mut s.beats_at_us),
            shift_at_beat,
            taps_at_us: std::mem::take(&mut s.taps_at_us),
            answer: s.answer,
        };
        (s.done.take(), rhythm, timing)
    });
    Some((level, c.reduced_motion, new_beat, finished))
}

fn draw_pulse(
    context: &CanvasRenderingContext2d,
    width: f64,
    height: f64,
    level: f64,
    reduced_motion: bool,
) {
    context.clear_rect(0.0, 0.0, width, height);
    let radius = if reduced_motion { height * 0.3 } else { height * (0.12 + 0.22 * level) };
    // Okabe-Ito blue, brighter at the peak.
    let alpha = if reduced_motion { 0.15 + 0.85 * level } else { 0.35 + 0.65 * level };
    context.set_fill_style_str(&format!("rgba(0, 114, 178, {alpha:.3})"));
    context.begin_path();
    let _ = context.arc(width / 2.0, height / 2.0, radius, 0.0, std::f64::consts::TAU);
    context.fill();
}

struct TrackingState {
    config: TrackingConfig,
    start_ms: Option<f64>,
    target: Vec<Point>,
    trace: Vec<String>,
    timing: Timing,
    done: Done<TrackingRun>,
}

/// A running tracking task; dropping it stops it without a result.
pub struct TrackingTask {
    state: Rc<RefCell<TrackingState>>,
    frame: FrameLoop,
}

/// The target's path (canvas px) at `t_ms` after the start: a sum of sines, smooth and partly
/// predictable, that stays inside the canvas.
fn target_at(t_ms: f64, width: f64, height: f64, speed: f64) -> (f64, f64) {
    let t = t_ms / 1000.0 * speed;
    let x = width / 2.0 + width * 0.3 * (t * 1.1).sin() + width * 0.12 * (t * 2.7 + 1.0).sin();
    let y = height / 2.0 + height * 0.28 * (t * 0.8 + 2.0).sin() + height * 0.1 * (t * 2.1).sin();
    (x, y)
}

impl TrackingTask {
    /// Starts the task on `canvas`; `done` receives the target's drawn path when time is up.
    pub fn start(
        canvas: &HtmlCanvasElement,
        config: TrackingConfig,
        done: impl FnOnce(Outcome<TrackingRun>, Option<FrameTiming>) + 'static,
    ) -> Result<TrackingTask, ProbeError> {
        let context = context(canvas)?;
        let state = Rc::new(RefCell::new(TrackingState {
            config,
            start_ms: None,
            target: Vec::new(),
            trace: Vec::new(),
            timing: Timing::default(),
            done: Some(Box::new(done)),
        }));
        let frame: FrameLoop = Rc::new(RefCell::new(None));
        let (width, height) = (f64::from(canvas.width()), f64::from(canvas.height()));
        let (loop_state, loop_frame, drawn) = (state.clone(), frame.clone(), canvas.clone());
        *frame.borrow_mut() = Some(Closure::new(move |now_ms: f64| {
            // The state is borrowed only between calls into JavaScript, never across one.
            let (start_ms, speed, duration_ms) = {
                let mut s = loop_state.borrow_mut();
                s.timing.frame(now_ms);
                (*s.start_ms.get_or_insert(now_ms), s.config.speed, s.config.duration_ms)
            };
            let (x, y) = target_at(now_ms - start_ms, width, height, speed);
            context.clear_rect(0.0, 0.0, width, height);
            context.set_fill_style_str("rgb(213, 94, 0)");
            context.begin_path();
            let _ = context.arc(x, y, 14.0, 0.0, std::f64::consts::TAU);
            context.fill();
            // Where that is on the page, in the pointer's coordinates (CSS px from the viewport).
            let rect = drawn.get_bounding_client_rect();
            let scale_x = if width > 0.0 { rect.width() / width } else { 1.0 };
            let scale_y = if height > 0.0 { rect.height() / height } else { 1.0 };
            let (page_x, page_y) = (rect.left() + x * scale_x, rect.top() + y * scale_y);
            let (trace, finished) = {
                let mut s = loop_state.borrow_mut();
                s.target.push(Point {
                    at_us: to_us(now_ms),
                    x_px: (page_x * 10.0).round() / 10.0,
                    y_px: (page_y * 10.0).round() / 10.0,
                });
                s.trace.push(format!("{now_ms:.3},{page_x:.1},{page_y:.1}"));
                if s.trace.len() > 40 {
                    s.trace.remove(0);
                }
                let finished = (now_ms - start_ms >= duration_ms).then(|| {
                    let timing = s.timing.summary();
                    let target = std::mem::take(&mut s.target);
                    let run = TrackingRun {
                        started_at_us: target.first().map_or(0, |p| p.at_us),
                        ended_at_us: target.last().map_or(0, |p| p.at_us),
                        target,
                    };
                    (s.done.take(), run, timing)
                });
                (s.trace.join(";"), finished)
            };
            let _ = drawn.set_attribute("data-trace", &trace);
            if let Some((done, run, timing)) = finished {
                if let Some(done) = done {
                    done(Outcome::Done(run), timing);
                }
                return;
            }
            request_frame(&loop_frame);
        }));
        request_frame(&frame);
        Ok(TrackingTask { state, frame })
    }

    /// Ends the task now and reports it as skipped.
    pub fn skip(&self) {
        let done = self.state.borrow_mut().done.take();
        skip_task(done, &self.frame);
    }
}

impl Drop for TrackingTask {
    fn drop(&mut self) {
        self.frame.borrow_mut().take();
    }
}
