"""The layerlab app: Images, History, Files and Build panels over the engine.

Engine calls run in thread workers (they read tars and SQLite); results come
back as messages. Worker failures, the app's and every panel's, end in one
place, ``task_failed_message``, as a notification naming the cause: an
engine error never takes the app down, and never goes unsaid.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, TabbedContent, TabPane
from textual.worker import Worker

from layerlab.themes import DEFAULT_THEME, VARIABLE_DEFAULTS, ThemeRegistry
from layerlab.engine.api.building import stop_running_steps
from layerlab.tui.config import CONFIG_FILE_NAME, TuiConfig
from layerlab.tui.task_errors import ReportsTaskFailures, TaskFailed
from layerlab.engine import events
from layerlab.tui.messages import (DockerfileChanged, EngineEvent, EngineEventBridge, ImageSelected, LayerSelected,
                                   StoreChanged, built_ref)
from layerlab.tui.build_options import BuildOptions, options_for
from layerlab.tui.screens.options_dialog import BuildOptionsScreen
from layerlab.tui.screens.dialogs import PromptScreen
from layerlab.tui.screens.help import HelpScreen, binding_rows
from layerlab.tui.widgets.build import BuildPanel
from layerlab.tui.widgets.files import FilesPanel
from layerlab.tui.widgets.history import HistoryPanel
from layerlab.tui.widgets.images import ImagesPanel
from layerlab.tui.widgets.key_hints import KeyHints
from layerlab.tui.catalog import Catalog, build_request

if TYPE_CHECKING:
    from layerlab.engine.builder.request import BuildRequest

PANELS = ("images", "history", "files", "build")
FAILURE_SECONDS = 30


class LayerlabApp(ReportsTaskFailures, App[None]):
    TITLE = "layerlab"
    CSS_PATH = "app.tcss"

    BINDINGS = [
        Binding("1", "show_panel('images')", "Images", id="app.images", tooltip="The images in the store"),
        Binding("2", "show_panel('history')", "History", id="app.history", tooltip="The selected image's layers"),
        Binding("3", "show_panel('files')", "Files", id="app.files", tooltip="The selected layer's files"),
        Binding("4", "show_panel('build')", "Build", id="app.build", tooltip="The open context's Dockerfile"),
        Binding("L", "lessons", "Lessons", id="app.lessons",
                tooltip="Guided lessons: each sample context, built, edited and checked"),
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Every key binding"),
        Binding("ctrl+t", "next_theme", "Theme", id="app.next_theme", tooltip="Switch to the next theme",
                show=False),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave layerlab (a running RUN is stopped)"),
        # Not Textual's "press ctrl+q": a terminal user's ctrl+c means stop. An input keeps it for copy.
        Binding("ctrl+c", "quit", "Quit", id="app.interrupt", tooltip="Leave layerlab (a running RUN is stopped)",
                show=False),
    ]

    def __init__(self, catalog: Catalog | None = None, *, context: Path | None = None, watch: bool = False,
                 theme: str | None = None, config: TuiConfig | None = None,
                 build_options: BuildOptions | None = None) -> None:
        self.config = config or TuiConfig()
        self.themes = ThemeRegistry.with_builtins(self.config.directory)
        super().__init__()
        self.catalog = catalog
        self.context = context
        self.build_options = build_options or (options_for(context) if context is not None else BuildOptions())
        self.watch_context = watch
        self.initial_theme = self.themes.resolve(
            theme or self.config.last_theme or self.config.theme or DEFAULT_THEME).name
        # Before the first style pass, not in on_mount: a theme set once the widgets are mounted makes
        # Textual parse the CSS and style every widget again, a sixth of the first paint's time.
        for entry in self.themes.themes.values():
            self.register_theme(entry.theme)
        self.theme = self.initial_theme
        self.context_watcher: Worker | None = None
        self.stop_watching = threading.Event()

    # -- set-up --------------------------------------------------------------

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="images", id="panels"):
            with TabPane("Images", id="images"):
                yield ImagesPanel(id="images-panel")
            with TabPane("History", id="history"):
                yield HistoryPanel(id="history-panel")
            with TabPane("Files", id="files"):
                yield FilesPanel(id="files-panel")
            with TabPane("Build", id="build"):
                yield BuildPanel(id="build-panel")
        yield KeyHints()

    def on_mount(self) -> None:
        # From now on a theme chosen here (ctrl+t, the palette) is the next start's theme.
        self.theme_changed_signal.subscribe(self, lambda theme: self.config.remember_theme(theme.name))
        if self.config.keymap:
            self.set_keymap(self.config.keymap)
            unknown = sorted(set(self.config.keymap) - {binding.id for bindings in self.binding_scopes().values()
                                                         for binding in bindings if binding.id})
            if unknown:
                self.notify(f"{CONFIG_FILE_NAME} [keymap]: no binding has the id {', '.join(map(repr, unknown))}; "
                            "the help screen (?) lists every id", severity="warning", timeout=FAILURE_SECONDS)
        if self.catalog is not None and self.catalog.watch_path() is not None:
            self.watch_store(self.catalog.watch_path())
        if self.context is not None:
            self.sub_title = self.context.name
            self.read_dockerfile(())
            if self.watch_context and self.catalog is not None:
                # The engine's watcher reports each change (the Build panel re-reads the Dockerfile
                # then); a second watcher here would only race it with its own news.
                self.watch_builds(self.context)
            elif self.watch_context:
                self.context_watcher = self.watch_context_dir(self.context)
        if self.context is not None and self.watch_context:
            self.action_show_panel("build")  # watch mode is about the build: open where it shows
        else:
            self.query_one("#images-table").focus()

    @property
    def pygments_style(self) -> str:
        return self.themes.pygments_style(self.theme)

    # -- panels ----------------------------------------------------------------

    def action_show_panel(self, panel: str) -> None:
        self.query_one(TabbedContent).active = panel
        # Now, not after a refresh: a key already queued behind this one must land in the new panel,
        # not in whatever took focus when the old panel hid (the image filter, which eats digits).
        self.focus_active_panel()

    def focus_active_panel(self) -> None:
        focus_target = {"images": "#images-table", "history": "#history-table", "files": "#file-tree",
                        "build": "#build-log"}[self.active_panel]
        self.query_one(focus_target).focus()

    @property
    def active_panel(self) -> str:
        return self.query_one(TabbedContent).active

    @on(ImageSelected)
    def image_selected(self, message: ImageSelected) -> None:
        self.query_one(HistoryPanel).show_image(message.ref)
        self.query_one(FilesPanel).show_image(message.ref)
        self.action_show_panel("history")

    @on(LayerSelected)
    def layer_selected(self, message: LayerSelected) -> None:
        self.query_one(FilesPanel).show_layer(message.ref, message.layer_index)
        self.action_show_panel("files")

    @on(StoreChanged)
    def store_changed(self) -> None:
        if not self.shutting_down():  # a watcher may report while the app closes
            self.query_one(ImagesPanel).reload()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(binding_rows(self.binding_scopes(), self.config.keymap)))

    def binding_scopes(self) -> dict[str, list[Binding]]:
        from layerlab.tui.screens.lesson import LessonBuildPanel  # only for help and keymap checks

        return {
            "app": self.BINDINGS,
            "images": ImagesPanel.BINDINGS,
            "history": HistoryPanel.BINDINGS,
            "files": FilesPanel.BINDINGS,
            "build": BuildPanel.BINDINGS,
            "lesson": [binding for binding in LessonBuildPanel.BINDINGS if binding.id],
        }

    def action_lessons(self) -> None:
        from layerlab.tui.screens.lessons import LessonsScreen

        if self.catalog is None:
            self.notify("lessons build their samples: open the app over a store", severity="warning")
            return
        self.push_screen(LessonsScreen())

    def action_next_theme(self) -> None:
        names = self.themes.names()
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.notify(f"theme: {self.theme}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for panel in PANELS:
            if panel != self.active_panel:
                yield SystemCommand(f"Show {panel}", f"Switch to the {panel.title()} panel",
                                    lambda panel=panel: self.action_show_panel(panel))
        for name in self.themes.names():
            yield SystemCommand(f"Theme: {name}", f"Switch to {name} (pygments: {self.themes.pygments_style(name)})",
                                lambda name=name: setattr(self, "theme", name), discover=False)
        # Every action of the panel in view, as its keys offer it (tag, remove, save, push, …).
        panel = self.query_one(f"#{self.active_panel}-panel")
        for binding in type(panel).BINDINGS:
            if binding.show and binding.description:
                yield SystemCommand(binding.description, binding.tooltip or binding.description,
                                    lambda action=binding.action, panel=panel: self.run_action(action, panel))
        yield SystemCommand("Build", "Build the open context now", self.action_build_context)
        yield SystemCommand("Open context…", "Choose a directory with a Dockerfile to build and watch",
                            self.action_open_context)
        if self.context is not None:
            yield SystemCommand("Build options…", "Dockerfile, build args, target, --no-cache",
                                self.action_build_options)
            yield SystemCommand("Re-read Dockerfile", f"Read {self.dockerfile_path()} again",
                                lambda: self.read_dockerfile(()))
        yield SystemCommand("Lessons", "Guided lessons on the build cache, one per sample context",
                            self.action_lessons)
        yield SystemCommand("Help", "Every key binding and its id", self.action_help)

    # -- builds ------------------------------------------------------------------

    def action_open_context(self) -> None:
        def open_context(answer: str | None) -> None:
            if answer:
                self.open_context(Path(answer).expanduser())

        self.push_screen(PromptScreen("Open build context (a directory with a Dockerfile)",
                                      value=str(self.context or ""), placeholder="path/to/context"), open_context)

    def open_context(self, context: Path, options: BuildOptions | None = None) -> None:
        """Open ``context`` (with its own Dockerfile unless ``options`` name one) on the Build panel."""
        options = options or self.build_options.with_changes(dockerfile=options_for(context).dockerfile)
        if not options.dockerfile_path(context).is_file():
            self.notify(f"{options.dockerfile_path(context)}: no such file", severity="error",
                        timeout=FAILURE_SECONDS)
            return
        self.context, self.build_options = context.resolve(), options
        self.sub_title = self.context.name
        self.read_dockerfile(())
        if self.watch_context and self.catalog is not None:
            self.stop_watching.set()  # the old watch loop ends; the new one gets its own flag
            self.stop_watching = threading.Event()
            self.watch_builds(self.context)
        self.action_show_panel("build")

    def action_build_options(self) -> None:
        if self.context is None:
            self.notify("no build context open: layerlab tui CONTEXT (or ctrl+p, Open context…)",
                        severity="warning")
            return

        def chosen(answer: tuple[Path, BuildOptions] | None) -> None:
            if answer is not None:
                self.open_context(*answer)
                if not self.watch_context:
                    self.notify(f"next build: {answer[1].flags() or 'the defaults'}; b builds")

        self.push_screen(BuildOptionsScreen(self.context, self.build_options), chosen)

    def dockerfile_path(self) -> Path:
        assert self.context is not None
        return self.build_options.dockerfile_path(self.context)

    def action_build_context(self) -> None:
        if self.context is None or self.catalog is None:
            self.notify("no build context open: layerlab tui CONTEXT", severity="warning")
            return
        if self.watch_context:
            self.notify("watch mode builds on every change; save a file to rebuild")
            return
        self.action_show_panel("build")
        self.build_once(self.context)

    def build_request(self) -> "BuildRequest | None":
        """What the Build panel predicts for: the open context with the options ``b`` builds it with."""
        return build_request(self.context, self.build_options) if self.context is not None else None

    @work(thread=True, exclusive=True, exit_on_error=False, group="build", description="build")
    def build_once(self, context: Path) -> None:
        self.catalog.build(context, EngineEventBridge(self.query_one(BuildPanel)), self.build_options)

    @work(thread=True, exclusive=True, exit_on_error=False, group="build", description="watch build")
    def watch_builds(self, context: Path) -> None:
        self.catalog.watch_and_build(context, EngineEventBridge(self.query_one(BuildPanel)), self.stop_watching,
                                     self.build_options)

    @on(EngineEvent)
    def build_event(self, message: EngineEvent) -> None:
        if self.shutting_down():
            return  # a watch build reported while the app closes: the panels are going away
        if not isinstance(message.event, events.BuildFinished):
            return
        # The new image is ready in History and Files; the Build panel stays in view.
        ref = built_ref(message.event)
        self.query_one(HistoryPanel).show_image(ref)
        self.query_one(FilesPanel).show_image(ref, again=True)
        self.query_one(ImagesPanel).reload()

    def shutting_down(self) -> bool:
        return self.stop_watching.is_set() or not self.query(ImagesPanel)

    async def action_quit(self) -> None:
        """Leave now, even mid-build: the watch loop stops, a running RUN is killed and its build fails
        (cleaned up as after any failed RUN), so no process is left and no wait for the RUN to end."""
        self.stop_watching.set()
        stop_running_steps()
        self.exit()

    def on_unmount(self) -> None:
        self.stop_watching.set()
        stop_running_steps()

    # -- workers -----------------------------------------------------------------

    @on(TaskFailed)
    def task_failed_message(self, message: TaskFailed) -> None:
        # Long enough to read a path; the panel concerned keeps saying it in place.
        self.notify(f"{message.task} failed: {message.text}", severity="error", timeout=FAILURE_SECONDS)

    @work(exclusive=True, exit_on_error=False, group="store-watch", description="watching the store")
    async def watch_store(self, root: Path) -> None:
        from watchfiles import awatch

        if not root.is_dir():
            return
        # Top level only: the metadata database changes on every commit, blobs need not be watched.
        async for _changes in awatch(root, recursive=False, debounce=300):
            self.post_message(StoreChanged())

    def read_dockerfile(self, changed: tuple[Path, ...]) -> None:
        path = self.dockerfile_path()
        self.query_one(BuildPanel).flags = self.build_options.flags(with_file=False)  # the title names the file
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.notify(f"{path}: {error.strerror if isinstance(error, OSError) else error}", severity="error")
            return
        self.query_one(BuildPanel).post_message(DockerfileChanged(path, text, changed))

    @work(exclusive=True, exit_on_error=False, group="context-watch", description="watching the context")
    async def watch_context_dir(self, context: Path) -> None:
        from watchfiles import awatch

        async for changes in awatch(context, debounce=200):
            changed = tuple(sorted({Path(path) for _kind, path in changes}))
            self.read_dockerfile(changed)
            await asyncio.sleep(0)
