// One cart line: name, quantity − / +, line total, remove.
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts

Rectangle {
    id: row

    required property var model          // CollectionModel roles: id, pending, name, price, qty
    // "−", "+" and "×" on every line: a screen reader says what and which product.
    readonly property string productName: model.name || model.id
    signal quantityRequested(int qty)
    signal removeRequested()

    objectName: "cartRow_" + model.id
    implicitHeight: 56
    radius: 8
    color: Theme.surface
    border.color: Theme.border

    component SmallButton: Button {
        id: button
        implicitWidth: 30
        implicitHeight: 30
        font.pixelSize: 16
        background: Rectangle {
            radius: 6
            color: button.down ? Theme.border : Theme.accentSoft
            FocusRing { visible: button.visualFocus; radius: 9 }
        }
    }

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: Theme.spacing
        anchors.rightMargin: Theme.spacing / 2
        spacing: 8

        ColumnLayout {
            Layout.fillWidth: true
            spacing: 0
            Label {
                text: row.productName
                font.pixelSize: Theme.body; font.bold: true; color: Theme.text
                elide: Text.ElideRight; Layout.fillWidth: true
            }
            Label {
                text: row.model.pending ? qsTr("%1 each · not synced yet").arg(Theme.money(row.model.price))
                                        : qsTr("%1 each · synced").arg(Theme.money(row.model.price))
                font.pixelSize: Theme.small
                color: row.model.pending ? Theme.warn : Theme.muted
            }
        }
        SmallButton {
            objectName: "dec_" + row.model.id
            text: "−"
            Accessible.name: qsTr("Decrease %1").arg(row.productName)
            onClicked: row.quantityRequested(row.model.qty - 1)
        }
        Label {
            objectName: "qty_" + row.model.id
            text: row.model.qty
            font.pixelSize: Theme.body; font.bold: true; color: Theme.text
            horizontalAlignment: Text.AlignHCenter
            Layout.preferredWidth: 24
        }
        SmallButton {
            objectName: "inc_" + row.model.id
            text: "+"
            Accessible.name: qsTr("Increase %1").arg(row.productName)
            onClicked: row.quantityRequested(row.model.qty + 1)
        }
        Label {
            text: Theme.money(row.model.qty * row.model.price)
            font.pixelSize: Theme.body; color: Theme.text
            horizontalAlignment: Text.AlignRight
            Layout.preferredWidth: 64
        }
        SmallButton {
            objectName: "remove_" + row.model.id
            text: "×"
            Accessible.name: qsTr("Remove %1").arg(row.productName)
            onClicked: row.removeRequested()
        }
    }
}
