// The keyboard-focus indicator of a button with a custom background, which drops the
// Basic style's own: a ring just outside the background. Put it in the background and
// bind `visible` to the button's visualFocus.
import QtQuick

Rectangle {
    anchors.fill: parent
    anchors.margins: -3
    color: "transparent"
    border.width: 2
    border.color: Theme.focus
}
