"""AppTest of the Nodule studio with the models that ship in models/: a simulated nodule on a sample film, the
detector's answer beside the true place, and the detectability curve where the server has the JSRT films."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, SHARED_DATA

pytest.importorskip("tensorflow")


@pytest.fixture
def studio(monkeypatch) -> AppTest:
    monkeypatch.setenv("MEDLIB_MODELS", str(ROOT / "models"))
    monkeypatch.setenv("MEDLIB_DATA", str(SHARED_DATA))
    app = AppTest.from_file(str(ROOT / "app_pages" / "nodule_studio.py"), default_timeout=180)
    app.run()
    assert not app.exception, app.exception
    return app


def _headline(app: AppTest) -> str:
    return next(h.value for h in app.subheader if h.value.startswith(("Found", "Missed")))


def test_a_simulated_nodule_is_placed_on_a_sample_film_and_answered_where_it_truly_is(studio):
    assert studio.selectbox(key="ns_model").value == "cxr-nodule"
    assert studio.selectbox(key="ns_sample").value == "normal (adult)"
    first = _headline(studio)
    caption = studio.get("image")[0].proto.imgs[0].caption
    assert "JPCNN004.png: a 15 mm nodule at (" in caption and "green ring" in caption and "1.60 mm a pixel" in caption
    studio.button(key="ns_again").click().run()  # another nodule at another place
    assert not studio.exception
    assert studio.get("image")[0].proto.imgs[0].caption != caption
    studio.radio(key="ns_place").set_value("chosen").run()
    studio.slider(key="ns_x").set_value(5).run()  # the film's edge: outside the lungs
    assert any("outside the lungs" in w.value for w in studio.warning)
    studio.slider(key="ns_x").set_value(60)
    studio.slider(key="ns_y").set_value(110).run()  # inside the right lung
    assert not studio.warning[1:] and _headline(studio).startswith(("Found", "Missed")) and first


def test_an_upload_that_is_not_a_film_gets_a_one_line_error(studio):
    studio.radio(key="ns_source").set_value("Upload a film").run()
    assert any("Upload a frontal chest film" in i.value for i in studio.info)
    studio.file_uploader(key="ns_upload").upload("notes.png", b"not a picture at all").run()
    assert studio.error and "\n" not in studio.error[0].value and not studio.exception


def test_the_detectability_curve_is_measured_on_the_servers_validation_films(studio):
    if not (SHARED_DATA / "jsrt").is_dir():
        pytest.skip(f"the JSRT films are not here ({SHARED_DATA})")
    studio.select_slider(key="ns_placements").set_value(10).run()
    studio.button(key="ns_measure").click().run()
    assert not studio.exception, studio.exception
    table = studio.dataframe[0].value
    assert list(table["diameter_mm"]) == [5.0, 10.0, 15.0, 20.0, 30.0] and (table["placements"] == 10).all()
    assert any("normal validation films of JSRT" in c.value for c in studio.caption)
