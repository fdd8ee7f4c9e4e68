// The catalog: a grid of products.
pragma ComponentBehavior: Bound   // the delegate uses `pane`
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts

ColumnLayout {
    id: pane

    required property CartStore cart

    spacing: Theme.spacing

    Label { text: qsTr("Catalog"); font.pixelSize: Theme.title; font.bold: true; color: Theme.text }

    GridLayout {
        Layout.fillWidth: true
        columns: 2
        rowSpacing: Theme.spacing
        columnSpacing: Theme.spacing
        Repeater {
            model: Catalog.items
            ProductCard {
                required property var modelData
                product: modelData
                inCart: (pane.cart.revision, pane.cart.quantity(modelData.id))
                Layout.fillWidth: true
                onAddClicked: pane.cart.add(modelData)
            }
        }
    }
    Item { Layout.fillHeight: true }
}
