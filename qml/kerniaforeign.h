// The SDK's own types as KerniaClient and CollectionModel hand them to QML, declared for
// the QML type system and its tools (type information, qmllint). None is created in QML.
#pragma once

#include "kerniareply.h"

#include <Kernia/Client>
#include <Kernia/Collection>
#include <Kernia/Error>

#include <QtQml/qqml.h>   // QML_FOREIGN needs more than qqmlregistration.h

struct KerniaForeignClient
{
    Q_GADGET
    QML_FOREIGN(Kernia::Client)
    QML_ANONYMOUS   // KerniaClient.client: a client created in C++
};

struct KerniaForeignCollection
{
    Q_GADGET
    QML_FOREIGN(Kernia::Collection)
    QML_NAMED_ELEMENT(Collection)
    QML_UNCREATABLE("A Collection comes from KerniaClient.collection(name)")
};

struct KerniaForeignRecord
{
    Q_GADGET
    QML_FOREIGN(Kernia::Record)
    QML_ANONYMOUS   // CollectionModel.recordAt(row)
};

// Kernia::Error in QML (Collection.put / patch / remove) reads like KerniaReply.error and
// KerniaClient.lastError: `kind` is the name ("InvalidArgument"), not the enum's number.
// A value-type extension: the engine reads the Error through these properties (v first,
// as Qt's own value types do).
class KerniaErrorValueType
{
    Kernia::Error v;
    Q_GADGET
    QML_FOREIGN(Kernia::Error)
    QML_ANONYMOUS
    QML_EXTENDED(KerniaErrorValueType)
    Q_PROPERTY(bool isError READ isError CONSTANT FINAL)
    Q_PROPERTY(QString kind READ kind CONSTANT FINAL)
    Q_PROPERTY(QString code READ code CONSTANT FINAL)
    Q_PROPERTY(QString message READ message CONSTANT FINAL)
    Q_PROPERTY(int httpStatus READ httpStatus CONSTANT FINAL)
    Q_PROPERTY(bool isTransient READ isTransient CONSTANT FINAL)

public:
    bool isError() const { return v.isError(); }
    QString kind() const { return KerniaReply::kindName(v.kind()); }
    QString code() const { return v.code(); }
    QString message() const { return v.message(); }
    int httpStatus() const { return v.httpStatus(); }
    bool isTransient() const { return v.isTransient(); }
};
