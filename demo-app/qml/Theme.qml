// Colours, sizes and spacing of the demo, in one place.
pragma Singleton
import QtQuick

QtObject {
    readonly property color background: "#f4f5f7"
    readonly property color surface: "#ffffff"
    readonly property color border: "#e1e4e8"
    readonly property color text: "#1f2328"
    readonly property color muted: "#6a737d"
    readonly property color accent: "#4f46e5"
    readonly property color accentSoft: "#eef2ff"
    readonly property color good: "#16a34a"
    readonly property color warn: "#d97706"
    readonly property color warnSoft: "#fffbeb"
    readonly property color bad: "#dc2626"
    readonly property color headerBg: "#1e1b4b"
    readonly property color headerText: "#e0e7ff"
    readonly property color focus: "#0284c7"   // keyboard focus rings

    readonly property int radius: 10
    readonly property int spacing: 12
    readonly property int padding: 16
    readonly property int small: 12
    readonly property int body: 14
    readonly property int title: 18

    function money(value) {
        return "€" + Number(value).toFixed(2)
    }
}
