// The cart, straight from the Kernia collection through the store's CollectionModel.
pragma ComponentBehavior: Bound   // the delegate uses `pane`
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts

Rectangle {
    id: pane

    required property CartStore cart

    radius: Theme.radius
    color: Theme.surface
    border.color: Theme.border
    implicitHeight: 320

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: Theme.padding
        spacing: Theme.spacing

        RowLayout {
            Label { text: qsTr("Your cart"); font.pixelSize: Theme.title; font.bold: true; color: Theme.text }
            Item { Layout.fillWidth: true }
            Label {
                objectName: "cartSummary"
                text: pane.cart.itemCount === 1 ? qsTr("1 item") : qsTr("%1 items").arg(pane.cart.itemCount)
                color: Theme.muted; font.pixelSize: Theme.small
            }
        }

        ListView {
            id: list
            objectName: "cartList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            spacing: 6
            model: pane.cart.lines
            delegate: CartRow {
                width: ListView.view.width
                onQuantityRequested: qty => pane.cart.setQuantity(model.id, qty)
                onRemoveRequested: pane.cart.remove(model.id)
            }
            Label {
                anchors.centerIn: parent
                visible: list.count === 0
                width: parent.width - 2 * Theme.padding
                wrapMode: Text.WordWrap
                horizontalAlignment: Text.AlignHCenter
                text: qsTr("Your cart is empty.\nAdd something from the catalog — no account needed.")
                color: Theme.muted
            }
        }

        Rectangle { Layout.fillWidth: true; implicitHeight: 1; color: Theme.border }
        RowLayout {
            Label { text: qsTr("Total"); font.pixelSize: Theme.body; color: Theme.muted }
            Item { Layout.fillWidth: true }
            Label {
                objectName: "cartTotal"
                text: Theme.money(pane.cart.total)
                font.pixelSize: Theme.title; font.bold: true; color: Theme.text
            }
        }
    }
}
