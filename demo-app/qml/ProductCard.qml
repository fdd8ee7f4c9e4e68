// One catalog product with an "Add" button.
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts

Rectangle {
    id: card

    required property var product
    property int inCart: 0
    signal addClicked()

    implicitWidth: 200
    implicitHeight: 92
    radius: Theme.radius
    color: Theme.surface
    border.color: Theme.border

    RowLayout {
        anchors.fill: parent
        anchors.margins: Theme.spacing
        spacing: Theme.spacing

        Rectangle {
            implicitWidth: 44; implicitHeight: 44; radius: 22
            color: card.product.color
            Label {
                anchors.centerIn: parent
                text: card.product.name.charAt(0)
                color: "white"
                font.pixelSize: 20
                font.bold: true
            }
        }
        ColumnLayout {
            Layout.fillWidth: true
            spacing: 2
            Label { text: card.product.name; font.pixelSize: Theme.body; font.bold: true; color: Theme.text }
            Label { text: card.product.detail; font.pixelSize: Theme.small; color: Theme.muted; elide: Text.ElideRight; Layout.fillWidth: true }
            Label { text: Theme.money(card.product.price); font.pixelSize: Theme.body; color: Theme.text }
        }
        Button {
            id: add
            objectName: "add_" + card.product.id
            text: card.inCart > 0 ? qsTr("Add (%1)").arg(card.inCart) : qsTr("Add")
            // One of eight "Add" buttons: a screen reader says which.
            Accessible.name: card.inCart > 0 ? qsTr("Add %1, %2 in the cart").arg(card.product.name).arg(card.inCart)
                                             : qsTr("Add %1").arg(card.product.name)
            onClicked: card.addClicked()
            contentItem: Label {
                text: add.text
                color: "white"
                font.pixelSize: Theme.small
                font.bold: true
                horizontalAlignment: Text.AlignHCenter
                verticalAlignment: Text.AlignVCenter
            }
            background: Rectangle {
                implicitWidth: 64; implicitHeight: 32
                radius: 8
                color: add.down ? Qt.darker(Theme.accent, 1.2) : Theme.accent
                FocusRing { visible: add.visualFocus; radius: 11 }
            }
        }
    }
}
