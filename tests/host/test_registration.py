"""The pack registers through ComfyUI's own custom-node loader, next to core's GLIGEN nodes."""
from __future__ import annotations

OUR_IDS = {"GLIGENAdapterLoader", "GLIGENGroundingBoxes", "GLIGENGroundingEncoder", "GLIGENApply",
           "GLIGENGroundingPose", "GLIGENGroundingMap"}


def test_nodes_are_registered_and_core_nodes_untouched(host):
    import nodes
    assert OUR_IDS <= set(nodes.NODE_CLASS_MAPPINGS)
    assert nodes.NODE_CLASS_MAPPINGS["GLIGENLoader"] is nodes.GLIGENLoader
    assert nodes.NODE_CLASS_MAPPINGS["GLIGENTextBoxApply"] is nodes.GLIGENTextBoxApply
    assert {nodes.NODE_DISPLAY_NAME_MAPPINGS[i] for i in OUR_IDS} == {
        "GLIGEN Adapter Loader", "GroundingBoxes", "GroundingEncoder", "GLIGENApply", "GroundingPose", "GroundingMap"}


def test_every_input_and_output_has_a_tooltip_and_every_node_a_description(host):
    import nodes
    for node_id in OUR_IDS:
        schema = nodes.NODE_CLASS_MAPPINGS[node_id].define_schema()
        assert schema.description, node_id
        for item in list(schema.inputs) + list(schema.outputs):
            assert item.tooltip, f"{node_id}: {getattr(item, 'id', None) or item.display_name} has no tooltip"


def test_object_info_lists_the_nodes(host):
    import nodes
    info = nodes.NODE_CLASS_MAPPINGS["GLIGENGroundingBoxes"].GET_NODE_INFO_V1()
    assert info["output"] == ["GROUNDING_BOXES", "IMAGE", "STRING"]
    assert set(info["input"]["required"]) == {"width", "height", "boxes_json"}
